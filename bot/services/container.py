"""The services a running app hands to its handlers and jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.metrics import Metrics
from storage.db import Database
from storage.models import utcnow


@dataclass
class Services:
    settings: Settings
    database: Database
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], dt.datetime] = utcnow
