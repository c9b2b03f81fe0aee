"""Has anything been written since an answer was read? Answers asked again and again
(`/okr status` from a team channel) are kept with the data version they were read at, and given
again only while that version stands: no write has committed since, in this process or in any
other sharing the database (another replica, `okrbot import`).

- SQLite: `PRAGMA data_version` on a connection of its own that never writes. Its value moves
  whenever any other connection to the file commits, and reading it touches no table.
- PostgreSQL: the current snapshot (`pg_current_snapshot()`). Two snapshots that list the
  same transactions as finished and as running see the same data, so an unchanged snapshot
  means nothing committed (or aborted) since. Read on a connection of its own; callers that
  arrive while a read is in flight share it, unless this process has committed since it
  began (they share the next one then), so a caller always sees its own writes.

Either costs writers nothing. When the version cannot be read, it is None and nothing is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # imported when first used: a SQLite install never needs the driver
    import asyncpg

log = logging.getLogger("okrbot.db")

# How long a PostgreSQL version read may take before the caller goes without (and reads).
VERSION_TIMEOUT = 1.0


class VersionSource(Protocol):
    async def read(self) -> str | None: ...

    def committed(self) -> None: ...

    async def close(self) -> None: ...


def version_source(url: str) -> VersionSource:
    """The data version's source for the database at `url` (a SQLAlchemy URL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        return SqliteVersion(path) if path and path != ":memory:" else NoVersion()
    return PostgresVersion(parsed.set(drivername="postgresql").render_as_string(False))


class NoVersion:
    """An in-memory SQLite database: each connection has its own, nothing to compare."""

    async def read(self) -> str | None:
        return None

    def committed(self) -> None:
        return None

    async def close(self) -> None:
        return None


class SqliteVersion:
    """`PRAGMA data_version` of a connection that never writes, opened on first use (on the
    event loop's thread, where okrbot runs SQLite: storage/sqlite_inline.py)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._opened = 0  # a reopened connection counts afresh: its values are told apart

    async def read(self) -> str | None:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(self._path, uri=self._path.startswith("file:"))
                self._opened += 1
            (value,) = self._connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as error:
            log.warning("cannot read the data version: %s", error)
            await self.close()
            return None
        return f"{self._opened}:{value}"

    def committed(self) -> None:
        return None  # the version is read anew each time: nothing is shared to hold back

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresVersion:
    """The server's current snapshot, read on a connection of its own. One read at a time;
    whoever asks while one is in flight shares it, unless this process committed since it
    began: then they wait for the next, which all of them share."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._next: asyncio.Future[str | None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._commits = 0  # this process's commits so far
        self._running: tuple[asyncio.Future[str | None], int] | None = None  # and at its start

    def committed(self) -> None:
        self._commits += 1

    async def read(self) -> str | None:
        if self._running is not None and self._running[1] == self._commits:
            return await asyncio.shield(self._running[0])  # began after our last commit
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiting = self._next
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve())
        return await asyncio.shield(waiting)

    async def _serve(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None
            self._running = (waiting, self._commits)
            try:
                waiting.set_result(await self._snapshot())
            finally:
                self._running = None
                if not waiting.done():  # cancelled (closing): nobody is left waiting
                    waiting.set_result(None)

    async def _snapshot(self) -> str | None:
        import asyncpg  # here, not at the top: see the module's imports

        try:
            async with asyncio.timeout(VERSION_TIMEOUT):
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self._dsn)
                return await self._connection.fetchval("SELECT pg_current_snapshot()::text")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("cannot read the data version: %s", error)
            await self._drop()
            return None

    async def _drop(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._next is not None and not self._next.done():
            self._next.set_result(None)
        await self._drop()


class Memo:
    """Answers with the data version each was read at; one is given again only while its
    version stands. Bounded: the least recently used go first."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[str, Any]] = OrderedDict()

    def get(self, key: Hashable, version: str | None) -> Any | None:
        """The answer kept for `key` at `version`, else None."""
        entry = self._entries.get(key)
        if version is None or entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, version: str | None, answer: Any) -> None:
        if version is None:
            return
        self._entries[key] = (version, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
