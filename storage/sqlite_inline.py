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
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool
from sqlalchemy.util import await_

DRIVER = "sqlite+okrbot_inline"


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
    (see the module docstring), and no implicit BEGIN (storage/db.py says BEGIN itself)."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, factory=_Connection
    )
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0"):
        connection.execute(f"PRAGMA {pragma}")
    return connection
