"""Reading replies off the event loop's core.

The reply reader (`bot.replies`) is pure and all CPU: about 2 ms for an eleven-line reply, a
quarter to a third of what a check-in reply cost the app in a burst. There, the batch being
recorded and the replies being read for the next one (`Services.reading`) would otherwise take
turns on one core. Once `okrbot run` starts them, the reading is done in worker processes of
its own, on another core, while the loop records and confirms; until then (the CLI, tests, the
demo) it is done in the app's process, a reply at a time between the loop's other work.

A worker that dies is replaced, and the replies it was reading are read in the app's process:
nothing is lost, a batch is only read slower. Workers that cannot start at all are given up
on, and a worker ends by itself when the app is killed outright.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor

from bot.replies import Item, Reading, read_reply
from bot.warmup import warm_up

log = logging.getLogger(__name__)

# How often a worker looks whether the app is still there.
PARENT_CHECK = 1.0

# What the reader needs for one reply: its text, the member's items, their language.
Job = tuple[str, tuple[Item, ...], str]


def read_all(jobs: Sequence[Job]) -> list[Reading]:
    """Read each reply (in a worker process, or here)."""
    return [read_reply(text, items, locale=locale) for text, items, locale in jobs]


class Readers:
    """Where replies are read: in worker processes once `start`ed, else in this one."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._processes = 0
        self._served = False  # whether the current pool has read a reply yet

    @property
    def processes(self) -> int:
        return self._processes if self._pool is not None else 0

    def start(self, processes: int) -> None:
        """Start `processes` workers (0: read here), each loading what the reader needs
        before its first reply. Returns at once; the workers start meanwhile."""
        self._processes = processes
        if processes > 0:
            self._pool = _pool(processes)
            self._pool.submit(read_all, [])  # spawns a worker now, not at the first burst

    async def read(self, jobs: Sequence[Job]) -> list[Reading]:
        """The readings of these replies, in order."""
        if not jobs:
            return []
        pool = self._pool
        if pool is not None:
            loop = asyncio.get_running_loop()
            size = -(-len(jobs) // self._processes)  # a share of the replies for each worker
            shares = [list(jobs[at : at + size]) for at in range(0, len(jobs), size)]
            try:
                read = [loop.run_in_executor(pool, read_all, share) for share in shares]
                readings = [reading for share in await asyncio.gather(*read) for reading in share]
            except BrokenExecutor:
                self._replace(pool)
            else:
                self._served = True
                return readings
        readings = []
        for job in jobs:  # here: give the loop a turn between replies
            readings.extend(read_all([job]))
            await asyncio.sleep(0)
        return readings

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """After a worker died: a new pool, unless this one never read a reply (its workers
        cannot start here: reading in the app's process from now on)."""
        if self._pool is not broken:
            return  # another batch replaced it already
        broken.shutdown(wait=False, cancel_futures=True)
        if not self._served:
            log.error("reply reader processes cannot start; replies are read in the app")
            self._pool = None
            return
        log.warning("a reply reader process died; reading here while it is replaced")
        self._pool, self._served = _pool(self._processes), False

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _pool(processes: int) -> ProcessPoolExecutor:
    # Spawned, not forked: the app's process has an event loop, threads and open sockets.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(processes, mp_context=context, initializer=_worker_start)


def _worker_start() -> None:
    """In a new worker: end with the app (a killed app leaves no idle reader behind: the pool
    only stops workers it is told to), then load what the reader needs."""
    app = os.getppid()

    def watch() -> None:
        while os.getppid() == app:
            time.sleep(PARENT_CHECK)
        os._exit(0)

    threading.Thread(target=watch, name="okrbot-app-watch", daemon=True).start()
    warm_up()


# Replies read in the app's process: for callers with no `Readers` of their own.
HERE = Readers()
