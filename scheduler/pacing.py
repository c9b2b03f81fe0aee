"""Web API calls paced per method under Slack's rate limits, learned from its 429s.

slack_sdk's rate-limit retry handler sleeps `Retry-After` plus up to a second of jitter on
*every* 429, so a round that leans on it spends most of its time asleep. Calls here go through a
`Pacer` instead: one `Pace` per Web API method and workspace client, which spaces calls evenly,
starts at a modest rate and doubles it each second until Slack first answers 429, then sets the
rate from what Slack accepted between two 429s (the bucket is empty at both, so what got through
in between is its refill rate) and creeps up slowly to follow a changing limit. A 429 still
pauses that method for its `Retry-After`. 500s and timeouts are retried by the client's own
handlers.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

# 429s one call may meet before it gives up (its caller decides what happens next).
MAX_LIMITED = 10
START_RATE = 5.0  # calls per second before Slack has said anything about its limit
MAX_RATE = 200.0
# What a later try may cure: Slack's API errors, network errors and timeouts.
TRANSIENT = (SlackClientError, aiohttp.ClientError, TimeoutError)


@dataclass
class Pace:
    """The pace of one Web API method: evenly spaced calls at `rate` per second, learned from
    429s. Pure bookkeeping on a monotonic clock the caller passes in."""

    rate: float = START_RATE
    ceiling: float = MAX_RATE
    paused_until: float = 0.0
    slow_start: bool = True
    _next: float = 0.0
    _limited_at: float | None = None
    _accepted_since: int = 0
    _recent: deque[float] = field(default_factory=deque)

    # Growth per second: doubling until the first 429, then 0.7 % to follow a rising limit.
    _START_GROWTH = 2.0
    _GROWTH = 1.007

    def reserve(self, now: float) -> float:
        """Take the next free slot; when the caller may send (never before `now`)."""
        start = max(now, self._next, self.paused_until)
        self._next = start + 1 / self.rate
        return start

    def accepted(self, now: float) -> None:
        """A call went through."""
        self._accepted_since += 1
        self._recent.append(now)
        while self._recent[0] < now - 1:
            self._recent.popleft()
        growth = self._START_GROWTH if self.slow_start else self._GROWTH
        self.rate = min(self.ceiling, self.rate * growth ** (1 / self.rate))

    def limited(self, sent_at: float, now: float, retry_after: float) -> None:
        """A call sent at `sent_at` got 429: pause, and learn the rate unless this 429 belongs
        to the burst already learned from (the call left before the last 429 came back)."""
        self.paused_until = max(self.paused_until, now + retry_after)
        self._next = max(self._next, self.paused_until)
        if self._limited_at is not None and sent_at < self._limited_at:
            return
        if self._limited_at is None:
            self.rate = max(len(self._recent), 1.0)
        else:
            self.rate = max(self._accepted_since / (now - self._limited_at), 0.5)
        self.slow_start = False
        self._limited_at, self._accepted_since = now, 0


class Pacer:
    """Web API calls of one workspace, paced per method. It sends through a copy of the app's
    client without the 429 retry handler (429s are handled here), keeping its 500/timeout
    retries."""

    def __init__(self, client: AsyncWebClient) -> None:
        handlers = [
            handler
            for handler in client.retry_handlers
            if not isinstance(handler, AsyncRateLimitErrorRetryHandler)
        ]
        self.client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=handlers,
        )
        self.paces: dict[str, Pace] = {}

    async def call(
        self, method: str, send: Callable[[AsyncWebClient], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        """`send(client)` in `method`'s turn; a 429 pauses the method and the call is retried."""
        pace = self.paces.setdefault(method, Pace())
        loop = asyncio.get_running_loop()
        for _attempt in range(MAX_LIMITED):
            sent_at = await self._turn(pace)
            try:
                response = await send(self.client)
            except SlackApiError as error:
                if error.response.status_code != 429:
                    raise
                pace.limited(sent_at, loop.time(), retry_after(error.response.headers))
                continue
            pace.accepted(loop.time())
            return response
        raise TimeoutError(f"{method}: still rate limited after {MAX_LIMITED} tries")

    @staticmethod
    async def _turn(pace: Pace) -> float:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, pace.reserve(loop.time()) - loop.time()))
            now = loop.time()
            if now >= pace.paused_until:  # a 429 while waiting moves everyone's turn
                return now


def retry_after(headers: dict) -> float:
    """Seconds from a 429's `Retry-After` (slack_sdk keeps header values as lists)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(float(raw), 0.0)
            except ValueError:
                break
    return 1.0


_pacers: weakref.WeakKeyDictionary[AsyncWebClient, Pacer] = weakref.WeakKeyDictionary()


def pacer_for(client: AsyncWebClient) -> Pacer:
    """The pacer of an app's client, kept as long as the client lives so that what it learned
    about the workspace's limits serves every round and every job sending at the same time."""
    pacer = _pacers.get(client)
    if pacer is None:
        pacer = _pacers[client] = Pacer(client)
    return pacer
