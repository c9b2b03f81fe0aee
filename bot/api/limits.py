"""Per-token rate limit (SPEC §9): a token bucket per token, `rate` requests a second with
bursts of `burst`. Kept in the process: each replica counts its own requests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Buckets kept before full ones are dropped: any well-formed token id gets a bucket, so made-up
# ids must not grow the table without end.
KEPT = 10_000


@dataclass
class RateLimiter:
    rate: float = 10.0
    burst: int = 20
    clock: Callable[[], float] = time.monotonic
    kept: int = KEPT
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 when allowed, else seconds until allowed."""
        now = self.clock()
        if len(self._buckets) >= self.kept:
            self._forget_full(now)
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        refill = self.burst / self.rate
        for key, (_tokens, then) in list(self._buckets.items()):
            if now - then >= refill:
                del self._buckets[key]


def retry_after(seconds: float) -> str:
    """`Retry-After` in whole seconds, never 0."""
    return str(max(1, math.ceil(seconds)))
