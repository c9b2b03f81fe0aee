"""Faults a test or benchmark injects into the stand-in: failures, slowness and rate limits.

Retry-After is always a whole number of seconds, as Slack sends it: slack_sdk's
`(Async)RateLimitErrorRetryHandler` parses the header with `int()` (a fractional value makes it
raise `ValueError`) and then sleeps that many seconds plus up to one more of random jitter.
"""

import math
from collections import deque
from collections.abc import Callable
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

    def refund(self) -> None:
        """Gives back the token just taken, for a call another limit refused after all."""
        self._tokens = min(float(self.burst), self._tokens + 1)

    def refusal(self, wait: float) -> Answer:
        """The 429 for a call that found the bucket empty."""
        if self.retry_after is None:
            return error_answer(429, retry_after=max(1, math.ceil(wait)))
        return error_answer(429, retry_after=self.retry_after)


@dataclass(frozen=True)
class Tier:
    """One of Slack's rate-limit tiers: calls a minute per method and workspace, and the short
    burst above that pace Slack lets through (its docs promise "occasional bursts" without a
    number; a tenth of the minute's calls is the stand-in's reading)."""

    per_minute: int
    burst: int

    def bucket(self) -> TokenBucket:
        return TokenBucket(self.per_minute / 60, self.burst)


TIER_1 = Tier(1, 1)
TIER_2 = Tier(20, 2)
TIER_3 = Tier(50, 5)
TIER_4 = Tier(100, 10)
# chat.postMessage has its own limit: about one message a second per channel (short bursts
# allowed), under a workspace-wide cap of several hundred a minute.
POST_PER_CHANNEL = Tier(60, 2)
POST_PER_WORKSPACE = Tier(600, 10)
# Slack's tier for every method the stand-in serves (auth.test is "special": treated as Tier 4).
SLACK_TIERS: dict[str, Tier] = {
    "apps.connections.open": TIER_1,
    "users.list": TIER_2,
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "bots.info": TIER_3,
    "auth.test": TIER_4,
    "users.info": TIER_4,
    "users.lookupByEmail": TIER_4,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "chat.postMessage": POST_PER_WORKSPACE,
}


class FaultPlan:
    """Per-method failures, delays and rate limits, consumed as calls arrive."""

    def __init__(self) -> None:
        self._failures: dict[str, _Countdown[Answer]] = {}
        self._delays: dict[str, _Countdown[float]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._keyed: dict[str, tuple[Callable[[], TokenBucket], dict[str, TokenBucket]]] = {}

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

    def rate_limit_each(self, method: str, make: Callable[[], TokenBucket]) -> None:
        """Puts each target of `method` (its channel) behind a bucket of its own, from `make`."""
        self._keyed[method] = (make, {})

    def enforce(self, tiers: dict[str, Tier]) -> None:
        """Slack's limits: each method behind its tier, chat.postMessage also per channel."""
        for method, tier in tiers.items():
            self.rate_limit(method, tier.bucket())
        self.rate_limit_each("chat.postMessage", POST_PER_CHANNEL.bucket)

    def clear(self) -> None:
        """Drops every pending fault and rate limit."""
        self._failures.clear()
        self._delays.clear()
        self._buckets.clear()
        self._keyed.clear()

    def intercept(self, method: str, now: float, target: str = "") -> Answer | None:
        """The injected answer for a call to `target` (a channel) arriving at `now`, or None to
        serve it normally. A call needs a token from the method's bucket and from the target's;
        one refused by either costs neither."""
        failures = self._failures.get(method)
        injected = failures.take() if failures else None
        if injected is not None:
            return injected
        granted: list[TokenBucket] = []
        for bucket in (self._buckets.get(method), self._target_bucket(method, target)):
            wait = bucket.take(now) if bucket else 0.0
            if bucket and wait > 0:
                for taken in granted:
                    taken.refund()
                return bucket.refusal(wait)
            if bucket:
                granted.append(bucket)
        return None

    def _target_bucket(self, method: str, target: str) -> TokenBucket | None:
        keyed = self._keyed.get(method)
        if keyed is None or not target:
            return None
        make, buckets = keyed
        if target not in buckets:
            buckets[target] = make()
        return buckets[target]

    def delay(self, method: str) -> float:
        """Seconds to hold the answer to this call."""
        delays = self._delays.get(method)
        return (delays.take() if delays else None) or 0.0
