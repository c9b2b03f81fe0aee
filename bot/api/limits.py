"""Per-token rate limit (SPEC §9): a token bucket per token, `rate` requests a second with
bursts of `burst`. Kept in the process: each replica counts its own requests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    rate: float = 10.0
    burst: int = 20
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 when allowed, else seconds until allowed."""
        now = self.clock()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """`Retry-After` in whole seconds, never 0."""
    return str(max(1, math.ceil(seconds)))
