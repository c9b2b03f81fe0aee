"""Async engines and units of work, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; `postgresql://…` -> `postgresql+asyncpg://…`."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+")[0]
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while the one writer commits; busy_timeout waits instead of failing
    # when two writers meet (the scheduler and a handler, say).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`, tuned for its backend."""
    if is_sqlite(url):
        # Enough pooled connections for a burst of requests: an overflow connection is closed
        # when returned, and opening one (a thread, the file, four pragmas) is costly.
        engine = create_async_engine(async_url(url), echo=echo, pool_size=20, max_overflow=10)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    # 20 kept connections per replica (30 at a burst) fit PostgreSQL's default 100 for three
    # replicas; pre-ping turns a connection the server dropped into a fresh one, not an error.
    return create_async_engine(
        async_url(url), echo=echo, pool_size=20, max_overflow=10, pool_pre_ping=True
    )


@dataclass
class Database:
    """The engine and the session factory; services open their own unit of work from it."""

    url: str
    engine: AsyncEngine

    @classmethod
    def connect(cls, url: str, *, echo: bool = False) -> Database:
        return cls(url=url, engine=create_engine(url, echo=echo))

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on any error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: nothing to commit, so no commit round trip (hot paths)."""
        async with self._sessions() as session:
            yield session

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
