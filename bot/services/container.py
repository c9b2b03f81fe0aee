"""The services a running app hands to its handlers and jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.metrics import Metrics
from bot.responder import SharedSession
from storage.db import Database, Slots
from storage.models import utcnow

DRAIN_SECONDS = 10.0
# Commands that write and check-in replies being recorded, at once; the others wait their turn
# in arrival order (handlers/commands.py, handlers/events.py).
WRITING = 4


@dataclass
class Services:
    settings: Settings
    database: Database
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], dt.datetime] = utcnow
    inflight: set[asyncio.Task[None]] = field(default_factory=set)
    # People's languages, read once per process: every request needs one, and they rarely change.
    locales: dict[tuple[str, str], str] = field(default_factory=dict)
    http: SharedSession = field(default_factory=SharedSession)
    writing: Slots = field(default_factory=lambda: Slots(WRITING))
    # Background work to stop at shutdown, after in-flight listeners are done (the Home feed).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def track(self, task: asyncio.Task[None]) -> None:
        """Remember a running listener, so shutdown can wait for it (see `drain`)."""
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def close(self) -> None:
        """Wait for in-flight listeners, stop background work, then release the HTTP session
        and the database."""
        await self.drain()
        for close in self.closers:
            await close()
        await self.http.close()
        await self.database.dispose()

    async def drain(self) -> None:
        """Wait (at most DRAIN_SECONDS) for listeners still working after their ack, before
        the database closes."""
        pending = [task for task in self.inflight if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_SECONDS)
