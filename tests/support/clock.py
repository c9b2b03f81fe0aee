"""A clock that tests move by hand, given to the sandbox as `services.clock`."""

from __future__ import annotations

import dataclasses
import datetime as dt

# 10:00:30 in Jakarta on a Monday: the seed's Customer Success check-in has just come due.
MONDAY = dt.datetime(2026, 11, 16, 3, 0, 30, tzinfo=dt.UTC)


@dataclasses.dataclass
class Clock:
    now: dt.datetime = MONDAY

    def __call__(self) -> dt.datetime:
        return self.now
