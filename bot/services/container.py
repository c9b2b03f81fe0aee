"""The services a running app hands to its handlers and jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import OkrbotError
from bot.metrics import Metrics
from bot.responder import SharedSession
from bot.services.checkins import IncomingReply, ReplyReading, remember_answers
from bot.services.inbox import Taken, read_messages, take_messages
from bot.services.people import known_locales
from bot.services.readers import Readers
from bot.services.updates import Change, NamedUpdate, update_named_krs
from storage.db import Batches, Database, Slots
from storage.models import utcnow

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
# Commands that write and batches of DMs or updates being recorded, at once; the others wait
# their turn in arrival order (handlers/commands.py, the batches below).
WRITING = 4
# The most pieces of work done in one batch (`storage.db.Batches`); the next batch takes
# whatever arrived meanwhile.
BATCH = 50
# A DM that finds none being read waits for company: until no other has come for GATHER
# seconds, or a batch is full, or GATHER_MOST seconds have passed. A round's replies come in a
# burst, whose first few DMs are then read and recorded with the ones right behind them, not
# alone ahead of them: the PostgreSQL reply burst's p99 was lower in 9 of 10 alternating runs,
# by 66 ms on average (README, session 11).
GATHER = 0.01
GATHER_MOST = 0.05
# The longest a notice waits for the DMs ahead of it to be recorded.
NOTICE_PATIENCE = 5.0

Notice = Callable[[], Awaitable[None]]
# A DM read ahead of its recording (None: read when recorded), with the number of DM batches
# recorded when its reading began.
Ahead = tuple[ReplyReading | None, int]


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
    # Where check-in replies are read: worker processes once `okrbot run` starts them.
    readers: Readers = field(default_factory=Readers)
    # Work done a batch at a time, as it comes in a burst (`storage.db.Batches`): people's DMs
    # to the bot (read, then recorded: the next batch is read while one is recorded),
    # `/okr update`s, where the DMs' confirmations went, people's languages.
    reading: Batches[IncomingReply, Ahead] = field(init=False, repr=False)
    inbox: Batches[tuple[IncomingReply, Ahead], Taken] = field(init=False, repr=False)
    kr_updates: Batches[NamedUpdate, Change | OkrbotError] = field(init=False, repr=False)
    answers: Batches[tuple[int, str], None] = field(init=False, repr=False)
    known_locales: Batches[tuple[str, str], str | None] = field(init=False, repr=False)
    # Messages that can wait for a burst of DMs to be confirmed (KPI alerts), in order.
    notices: Batches[Notice, None] = field(init=False, repr=False)
    _locales_read: set[str] = field(default_factory=set, repr=False)  # workspaces read whole
    # DM batches recorded so far, and the batch that last recorded each member's DMs: a DM
    # read ahead while another of its writer's was being recorded is read again.
    _recorded: int = field(default=0, repr=False)
    _recorded_in: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reading = Batches(self._read_messages, BATCH, gather=GATHER, gather_most=GATHER_MOST)
        self.inbox = Batches(self._take_messages, BATCH)
        self.kr_updates = Batches(self._update_krs, BATCH)
        self.answers = Batches(
            lambda answers: remember_answers(database=self.database, answers=answers), BATCH
        )
        self.known_locales = Batches(self._read_locales, BATCH)
        self.notices = Batches(_in_order, BATCH, behind=self.inbox, patience=NOTICE_PATIENCE)

    async def _read_locales(self, pairs: list[tuple[str, str]]) -> list[str | None]:
        # The first time a workspace is asked about, every member's language at once: after a
        # start, a round's burst of replies would otherwise read them a batch at a time.
        first = {workspace_id for workspace_id, _ in pairs} - self._locales_read
        found = await known_locales(database=self.database, people=pairs, workspaces=first)
        self._locales_read |= first
        for pair, locale in found.items():
            self.locales.setdefault(pair, locale)
        return [found.get(pair) for pair in pairs]

    async def _update_krs(self, requests: list[NamedUpdate]) -> list[Change | OkrbotError]:
        async with self.writing:  # a batch is one write unit: one turn among the writers
            return await update_named_krs(
                database=self.database, requests=requests, now=self.clock()
            )

    async def take_dm(self, message: IncomingReply) -> Taken:
        """Record a DM to the bot: read, then recorded, a batch at a time in arrival order. In
        a burst the first are confirmed first, a batch pays for its statements once, and the
        next batch is read while one is recorded."""
        ahead = await self.reading.submit(message)
        return await self.inbox.submit((message, ahead))

    async def _read_messages(self, messages: list[IncomingReply]) -> list[Ahead]:
        recorded = self._recorded
        read = await read_messages(
            database=self.database, messages=messages, now=self.clock(), readers=self.readers
        )
        return [(reading, recorded) for reading in read]

    async def _take_messages(self, pieces: list[tuple[IncomingReply, Ahead]]) -> list[Taken]:
        messages = [message for message, _ in pieces]
        readings = [
            None if self._recorded_in.get(_writer(message), 0) > recorded else reading
            for message, (reading, recorded) in pieces
        ]
        # A batch is one write unit: it takes one turn among the writers.
        async with self.writing:
            taken = await take_messages(
                database=self.database,
                messages=messages,
                now=self.clock(),
                readers=self.readers,
                readings=readings,
            )
        self._recorded += 1
        for message in messages:
            self._recorded_in[_writer(message)] = self._recorded
        return taken

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
        await self.readers.close()
        await self.http.close()
        await self.database.dispose()

    async def drain(self) -> None:
        """Wait (at most DRAIN_SECONDS) for listeners still working after their ack, before
        the database closes."""
        pending = [task for task in self.inflight if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_SECONDS)


def _writer(message: IncomingReply) -> tuple[str, str]:
    return message.workspace_id, message.user_id


async def _in_order(notices: list[Notice]) -> list[None]:
    """Send notices one after the other; one that fails is logged, the others still go."""
    for notice in notices:
        try:
            await notice()
        except Exception:
            log.exception("a notice was not sent")
    return [None] * len(notices)
