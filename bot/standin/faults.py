"""Faults a test or benchmark injects into the stand-in: failures, slowness and rate limits.

Retry-After is always a whole number of seconds, as Slack sends it: slack_sdk's
`(Async)RateLimitErrorRetryHandler` parses the header with `int()` (a fractional value makes it
raise `ValueError`) and then sleeps that many seconds plus up to one more of random jitter.
"""

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_ERROR_FOR_STATUS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class Answer:
    """What the stand-in sends back: HTTP status, JSON body (or plain text) and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


def error_answer(status: int, error: str | None = None, retry_after: int | None = None) -> Answer:
    """An `ok: false` answer; with HTTP 429 it carries Retry-After."""
    body = {"ok": False, "error": error or _ERROR_FOR_STATUS.get(status, f"http_{status}")}
    headers = {}
    if status == 429:
        headers["Retry-After"] = str(1 if retry_after is None else retry_after)
    return Answer(status=status, body=body, headers=headers)


def whole_seconds(value: float | None) -> int | None:
    """Checks a Retry-After value: whole seconds, 0 or more (0 is for fast tests only)."""
    if value is None:
        return None
    if value < 0 or not float(value).is_integer():
        raise ValueError(
            f"retry_after={value!r}: Retry-After must be whole seconds >= 0, because slack_sdk "
            "parses it with int(); tune the bucket's per_second instead"
        )
    return int(value)


class _Countdown(Generic[T]):
    """A FIFO of items, each handed out a given number of times."""

    def __init__(self) -> None:
        self._items: deque[list[Any]] = deque()

    def push(self, item: T, times: int) -> None:
        """Queues `item` for the next `times` takes."""
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        self._items.append([item, times])

    def take(self) -> T | None:
        """The current item, or None when nothing is queued."""
        if not self._items:
            return None
        entry = self._items[0]
        entry[1] -= 1
        if entry[1] == 0:
            self._items.popleft()
        return entry[0]


@dataclass
class TokenBucket:
    """Slack-style per-method rate limit: `burst` calls at once, refilled at `per_second`."""

    per_second: float
    burst: int = 1
    retry_after: int | None = None
    _tokens: float = field(init=False)
    _updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")
        self._tokens = float(self.burst)

    def take(self, now: float) -> float:
        """Takes a token; 0 when granted, else the seconds until the next token."""
        if self._updated is not None:
            refill = (now - self._updated) * self.per_second
            self._tokens = min(float(self.burst), self._tokens + refill)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.per_second

    def refusal(self, wait: float) -> Answer:
        """The 429 for a call that found the bucket empty."""
        if self.retry_after is None:
            return error_answer(429, retry_after=max(1, math.ceil(wait)))
        return error_answer(429, retry_after=self.retry_after)


class FaultPlan:
    """Per-method failures, delays and rate limits, consumed as calls arrive."""

    def __init__(self) -> None:
        self._failures: dict[str, _Countdown[Answer]] = {}
        self._delays: dict[str, _Countdown[float]] = {}
        self._buckets: dict[str, TokenBucket] = {}

    def fail(self, method: str, answer: Answer, times: int) -> None:
        """The next `times` calls to `method` get `answer`."""
        self._failures.setdefault(method, _Countdown()).push(answer, times)

    def slow(self, method: str, seconds: float, times: int) -> None:
        """The next `times` calls to `method` are answered `seconds` late."""
        self._delays.setdefault(method, _Countdown()).push(seconds, times)

    def rate_limit(self, method: str, bucket: TokenBucket | None) -> None:
        """Puts `method` behind `bucket` (None lifts the limit)."""
        if bucket is None:
            self._buckets.pop(method, None)
        else:
            self._buckets[method] = bucket

    def clear(self) -> None:
        """Drops every pending fault and rate limit."""
        self._failures.clear()
        self._delays.clear()
        self._buckets.clear()

    def intercept(self, method: str, now: float) -> Answer | None:
        """The injected answer for a call arriving at `now`, or None to serve it normally."""
        failures = self._failures.get(method)
        injected = failures.take() if failures else None
        if injected is not None:
            return injected
        bucket = self._buckets.get(method)
        wait = bucket.take(now) if bucket else 0.0
        return bucket.refusal(wait) if bucket and wait > 0 else None

    def delay(self, method: str) -> float:
        """Seconds to hold the answer to this call."""
        delays = self._delays.get(method)
        return (delays.take() if delays else None) or 0.0
