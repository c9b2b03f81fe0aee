"""SQLite on the event loop's own thread: the standard `sqlite3` driver under the async engine.

aiosqlite gives each connection a thread and hands it every call: opening a cursor, executing,
fetching and closing each cost a trip to that thread and back, and under a burst each trip
also waits for the interpreter lock. A check-in reply makes about 25 statements, so about 100
trips; profiled under load, they were the largest single cost of a reply (42 % of its samples).
SQLite itself answers these statements in microseconds from the page cache, so running them
where they are asked for is cheaper than any hand-over.

So SQLite goes through SQLAlchemy's own `pysqlite` dialect, declared usable by the async
engine: a unit of work still runs inside the engine's greenlet, and each statement simply
executes there. What it loses is waiting: a call on the loop's thread must never sleep in
SQLite. Connections are opened with `busy_timeout=0`, so a lock held elsewhere fails at once,
and the one place a unit of work asks for the write lock (`BEGIN IMMEDIATE`, storage/db.py)
waits for it with `asyncio.sleep` between attempts, letting the holder finish. Readers in WAL
mode never wait.

Nor does a commit copy the write-ahead log back into the database file: SQLite's automatic
checkpoint would do that inside whichever commit passes 1,000 pages, on the loop's thread (in a
profile of a reply burst, two such commits took 41 ms, everything else waiting). `Checkpoints`
does it on a thread of its own, shortly after commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool
from sqlalchemy.util import await_

DRIVER = "sqlite+okrbot_inline"

log = logging.getLogger("okrbot.db")

# How long after a commit the log is checkpointed: the commits of a burst share one.
CHECKPOINT_DELAY = 1.0


async def _done() -> None:
    return None


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """`pysqlite`, run by the async engine on the loop's thread."""

    is_async = True
    supports_statement_cache = True

    # The async engine insists that an execution awaited something (else it takes the driver
    # for a blocking one): each statement awaits a coroutine that is already done, which
    # costs a switch of greenlet, not a turn of the loop.
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        await_(_done())
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        await_(_done())
        cursor.execute(statement)

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        await_(_done())
        cursor.executemany(statement, parameters)

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return connect(cargs[0] if cargs else cparams["database"])

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        # The pool waits for a free connection by yielding to the loop, never by blocking it.
        return AsyncAdaptedQueuePool


registry.register(DRIVER.replace("+", "."), __name__, InlineSQLiteDialect.__name__)


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What the async engine calls once a statement ran, for drivers that must hand their
        rows over before the result is read; here the rows stay readable where they are."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


def connect(path: str) -> Any:
    """A connection to the SQLite file at `path`, tuned for okrbot: WAL (readers run while the
    writer commits), NORMAL sync (safe in WAL; fsync at checkpoints), foreign keys, no busy wait
    (see the module docstring), no checkpoint in its commits (`Checkpoints` does them; the last
    connection to close still does one), and no implicit BEGIN (storage/db.py says BEGIN)."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, factory=_Connection
    )
    for pragma in _PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    return connection


_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "foreign_keys=ON",
    "busy_timeout=0",
    "wal_autocheckpoint=0",
)


class Checkpoints:
    """Copies what commits left in the write-ahead log into the database file, on a thread of
    its own, `CHECKPOINT_DELAY` after a commit. The checkpoint is PASSIVE: it never waits for
    readers or the writer, and neither waits for it (what it cannot copy yet, the next one
    does). SQLite releases the interpreter lock while it works, so the loop goes on meanwhile."""

    def __init__(self, path: str) -> None:
        # Resolved now: the file the app opened, whatever the working directory becomes.
        self._uri = path if path.startswith("file:") else f"{Path(path).resolve().as_uri()}?mode=rw"
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(CHECKPOINT_DELAY)
            self._pending = False
            await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        # A connection of its own each time: a checkpoint still running when `close` cancels
        # the task finishes on it undisturbed. It never creates the file (a database removed
        # meanwhile stays removed).
        try:
            with contextlib.closing(sqlite3.connect(self._uri, uri=True)) as db:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:  # the next commit's checkpoint copies what this missed
            log.warning("cannot checkpoint the SQLite log: %s", error)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
