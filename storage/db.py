"""Async engines and units of work, for SQLite (embedded default) and PostgreSQL.

Under a burst (a round prompts everyone, everyone answers in the same minutes) nothing here may
fail for being busy. So every unit of work first takes a slot: writes and reads have separate
slots, fewer in all than the pool holds, so a unit never waits on the pool (whose time-out
would lose the work) and reads never queue behind a backlog of writes. On SQLite a write unit
starts with `BEGIN IMMEDIATE`: writers wait for the file lock (sleeping between attempts, as
SQLite statements run on the loop's thread: storage/sqlite_inline.py) instead of failing
half-way, so "database is locked" does not surface. A failure that another attempt may not
meet (a lock, a serialization failure, a deadlock, a dropped connection) is retried from the
start of the unit by `transact()`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import bindparam, event, exc, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Row, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.base import Executable
from sqlalchemy.util import await_
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import sqlite_inline
from storage.versions import Memo, version_source

log = logging.getLogger("okrbot.db")

T = TypeVar("T")
R = TypeVar("R")

_DRIVERS = {
    "sqlite": sqlite_inline.DRIVER,
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}

# Connections each process keeps; three replicas fit PostgreSQL's default 100 connections.
POOL_SIZE = 20
# Slots for units of work: together below POOL_SIZE, so that the scheduler, `/healthz` and a
# migration always find a connection too.
READ_SLOTS = 10
WRITE_SLOTS = 6
# How long a SQLite write unit waits for another connection's write lock before giving up
# (then `transact()` may try the whole unit again).
SQLITE_LOCK_WAIT = 10.0
# A transient failure is tried again this many times in all, with jittered exponential
# backoff from RETRY_FIRST_DELAY; past that the database is taken to be unavailable.
ATTEMPTS = 10
RETRY_FIRST_DELAY = 0.02
RETRY_MAX_DELAY = 5.0
# A PostgreSQL connection idle in the pool this long (seconds) is pinged before use.
PING_AFTER_IDLE = 5.0
_CHECKED_IN = "okrbot_checked_in"
# Execution option marking the connections of write units (SQLite begins them IMMEDIATE).
_WRITE_OPTION = "okrbot_write"
# PostgreSQL SQLSTATEs worth another attempt: serialization failure, deadlock, lock not
# available, and the server shutting down or restarting.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


class DatabaseUnavailable(Exception):
    """The database did not take a unit of work after every retry; nothing was written."""


def async_url(url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+okrbot_inline:///x.db`; `postgresql://…` -> `postgresql+asyncpg://…`."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+")[0]
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def is_transient(error: BaseException) -> bool:
    """True for a failure that the same unit of work may not meet on another attempt."""
    if isinstance(error, exc.TimeoutError | ConnectionError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate is not None:
            return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")
        return isinstance(error, exc.OperationalError) and _sqlite_busy(error.orig)
    return False


def _sqlite_busy(error: BaseException) -> bool:
    message = str(error).lower()
    return any(words in message for words in _SQLITE_BUSY)


def _begin_sqlite(connection: Connection) -> None:
    # A deferred transaction that later writes may find the file changed under it and fail at
    # once (no busy wait helps). A write unit therefore takes the write lock when it begins;
    # while another connection holds it, the unit sleeps between attempts (connections never
    # wait inside SQLite: storage/sqlite_inline.py), which lets that holder finish. BEGIN goes
    # straight to the driver: every unit of work says it, so it skips the engine's machinery.
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection that is beginning is checked out
    if not connection.get_execution_options().get(_WRITE_OPTION, False):
        driver.execute("BEGIN")
        return
    delay = 0.001
    waited = 0.0
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not _sqlite_busy(error) or waited >= SQLITE_LOCK_WAIT:
                raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
        await_(asyncio.sleep(delay))
        waited += delay
        delay = min(delay * 2, 0.05)


# The most recently returned connection is handed out first (the default is the least
# recently used): a quiet moment or a burst reuses the few connections whose prepared
# statements are warm (asyncpg prepares each statement once a connection) and which need no
# ping, and the others stay idle. Enough pooled connections for every slot: an overflow
# connection is closed when returned, and opening one is costly (a thread, the file and four
# pragmas on SQLite; a login on PostgreSQL).
_POOL: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": 10, "pool_use_lifo": True}


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`, tuned for its backend."""
    if is_sqlite(url):
        engine = create_async_engine(async_url(url), echo=echo, **_POOL)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
        return engine
    engine = create_async_engine(async_url(url), echo=echo, **_POOL)
    event.listen(engine.sync_engine.pool, "checkout", _check_out_postgres)
    event.listen(engine.sync_engine.pool, "checkin", _checked_in)
    return engine


def sqlite_checkpoints(url: str) -> sqlite_inline.Checkpoints | None:
    """The checkpointer of a SQLite file's log; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return sqlite_inline.Checkpoints(path)


def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _check_out_postgres(
    dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """Turn a connection the server dropped (a restart, a fail-over) into a fresh one, not an
    error. The driver marks a connection closed as soon as the server's goodbye arrives, so
    a connection back from work moments ago is only checked for that mark. One idle in the
    pool for longer also answers an empty statement (one round trip): its goodbye may not
    have come. SQLAlchemy's own pre-ping takes three round trips (it wraps the statement in
    a transaction, for pgbouncer); pinging every check-out was a fifth of an `/okr update`
    on PostgreSQL in a profile."""
    driver = record.driver_connection
    if driver is None or driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")
    if time.monotonic() - record.info.get(_CHECKED_IN, 0.0) < PING_AFTER_IDLE:
        return
    try:
        await_(driver.fetchrow(";"))
    except Exception as error:  # whatever the driver raises, the answer is a new connection
        raise exc.DisconnectionError("the server did not answer a ping") from error


def for_reading(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for read units. On PostgreSQL they run without a transaction: at its default
    READ COMMITTED level each statement takes its own snapshot inside a transaction too, so
    BEGIN and ROLLBACK would only add two round trips to every read."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for units that write: on SQLite they begin by taking the write lock."""
    return engine.execution_options(**{_WRITE_OPTION: True})


_DEFERRED = "okrbot_deferred_inserts"


def insert_later(session: AsyncSession, model: type[SQLModel], **values: Any) -> None:
    """Insert a `model` row of these values (the others take their defaults) when its write
    unit commits, in one statement with the unit's other rows of the same table. For rows
    nothing reads back in the same unit (history): the ORM inserts each in a statement of its
    own on SQLite (to learn its id), while the unit holds the only writer slot; and building
    the model object alone cost more than inserting its values."""
    fixed, made = _defaults(model)
    row = {**fixed, **{name: make() for name, make in made if name not in values}, **values}
    session.info.setdefault(_DEFERRED, {}).setdefault(model, []).append(row)


@functools.cache
def _defaults(model: type[SQLModel]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """A model's fixed column defaults, and the fields whose default is made for each row."""
    fixed, made = {}, []
    for name, info in model.model_fields.items():
        if name == "id":
            continue
        if info.default_factory is not None:
            made.append((name, info.default_factory))
        elif info.default is not PydanticUndefined:
            fixed[name] = info.default
    return fixed, tuple(made)


def update_later(session: AsyncSession, row: SQLModel, **values: Any) -> None:
    """Set these attributes of a row loaded in the unit now, and write them when the unit
    commits, in one statement with the unit's other rows of the same table. The ORM would
    track each change and flush it, for a row the unit only changes, at several times the
    cost of writing it; a statement that reads the row in the unit reads it as loaded."""
    for name, value in values.items():
        set_committed_value(row, name, value)
    pending = session.info.setdefault(_CHANGED, {}).setdefault(type(row), {})
    key = id(row)  # the session holds one object a row; the entry holds it while it counts
    _, names = pending.get(key, (row, frozenset()))
    pending[key] = (row, names | frozenset(values))


_CHANGED = "okrbot_deferred_updates"


async def write_deferred(session: AsyncSession, model: type[SQLModel] | None = None) -> None:
    """Write now what `insert_later` and `update_later` hold (of `model`, or of every table):
    before a statement of the unit reads that table. The unit's commit writes whatever is
    left."""
    inserts, changes = session.info.get(_DEFERRED, {}), session.info.get(_CHANGED, {})
    for table in [model] if model is not None else list({*inserts, *changes}):
        rows, changed = inserts.pop(table, []), changes.pop(table, {})
        if rows or changed:
            await session.flush()  # the rows they may refer to, added to the session before
            connection = await session.connection()
        if rows:
            if _as_arrays(connection, table, rows):
                names = tuple(rows[0])
                await connection.execute(_insert_arrays(table, names), _arrays(rows, names))
            else:
                await connection.execute(insert(table), rows)
        for names, group in _by_columns(changed.values()).items():
            if _as_arrays(connection, table, group):
                ordered = ("row_id", *sorted(names))
                await connection.execute(_update_arrays(table, ordered), _arrays(group, ordered))
            else:
                await connection.execute(_update_statement(table, names), group)


# From this many rows on, PostgreSQL gets them as one array a column in one statement, which
# the server runs once; with executemany it runs the statement once a row (a burst's history
# rows and KR changes: about 40 % less of the server's time for the two statements).
ARRAYS_FROM = 10


def _as_arrays(connection: Any, table: type[SQLModel], rows: Sequence[Mapping[str, Any]]) -> bool:
    return (
        connection.dialect.name == "postgresql"
        and len(rows) >= ARRAYS_FROM
        and _plain_columns(table, frozenset(rows[0]))
    )


@functools.cache
def _plain_columns(table: type[SQLModel], names: frozenset[str]) -> bool:
    """Whether these columns of `table` can travel in PostgreSQL arrays (JSON cannot)."""
    columns = table.__table__.c  # type: ignore[attr-defined]
    return not any(isinstance(columns[name].type, sqltypes.JSON) for name in names - {"row_id"})


def _arrays(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {f"{name}_all": [row[name] for row in rows] for name in names}


def _unnest(table: type[SQLModel], names: Sequence[str]) -> Any:
    """`unnest(:a_all, :b_all, …) AS anon(a, b, …)`: one array parameter a column."""
    columns = table.__table__.c  # type: ignore[attr-defined]
    arrays = [
        bindparam(f"{name}_all", type_=ARRAY(columns["id" if name == "row_id" else name].type))
        for name in names
    ]
    return func.unnest(*arrays).table_valued(*names).render_derived()


@functools.cache
def _insert_arrays(table: type[SQLModel], names: tuple[str, ...]) -> Executable:
    source = _unnest(table, names)
    return insert(table.__table__).from_select(  # type: ignore[attr-defined]
        list(names), select(*(source.c[name] for name in names))
    )


@functools.cache
def _update_arrays(table: type[SQLModel], names: tuple[str, ...]) -> Executable:
    source = _unnest(table, names)
    columns = table.__table__.c  # type: ignore[attr-defined]
    return (
        update(table.__table__)  # type: ignore[attr-defined]
        .where(columns.id == source.c.row_id)
        .values({name: source.c[name] for name in names if name != "row_id"})
    )


def _by_columns(
    changed: Iterable[tuple[SQLModel, frozenset[str]]],
) -> dict[frozenset[str], list[dict[str, Any]]]:
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row, names in changed:
        values = {name: getattr(row, name) for name in names}
        groups.setdefault(names, []).append({"row_id": row.id, **values})  # type: ignore[attr-defined]
    return groups


def _update_statement(table: type[SQLModel], names: frozenset[str]) -> Executable:
    columns = table.__table__.c  # type: ignore[attr-defined]
    return (
        update(table.__table__)  # type: ignore[attr-defined]
        .where(columns.id == bindparam("row_id"))
        .values({name: bindparam(name) for name in sorted(names)})
    )


_KEPT = "okrbot_kept_rows"


def keep(session: AsyncSession, rows: Iterable[Any]) -> None:
    """Hold these loaded objects for the rest of the unit of work, so that `in_session` finds
    them (a session only holds weak references to what it loaded)."""
    session.info.setdefault(_KEPT, []).extend(rows)


def in_session(session: AsyncSession, model: type[T], row_id: int) -> T | None:
    """The row if this unit's session already holds it (no statement is run), else None."""
    key = (_identity_class(model), (row_id,), None)  # what `identity_key` gives, made cheaply
    found = session.sync_session.identity_map.get(key)
    return found if isinstance(found, model) else None


@functools.cache
def _identity_class(model: type[Any]) -> type[Any]:
    """The class in `model`'s identity keys: `identity_key` inspects the mapper each time,
    about 5 % of a reply burst's write units in a profile (thousands of look-ups)."""
    return identity_key(model, 0)[0]  # type: ignore[no-any-return]


async def column_rows(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """The rows of a statement that names columns, not entities, read through the session's
    connection: the same rows `session.exec` gives, without the ORM's result processing (a
    third of `/okr status`'s time in a profile)."""
    connection = await session.connection()
    return (await connection.execute(statement, dict(params))).all()


class Slots:
    """At most `size` holders at once; the others wait in arrival order, never time out."""

    def __init__(self, size: int) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self.waiting = 0

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._semaphore.release()


# How long work that gives way (`Batches`) waits for the work ahead of it to stay idle.
QUIET = 0.3


class Batches(Generic[T, R]):
    """Work handed in one piece at a time and done a batch at a time: what arrives while a
    batch runs waits, in arrival order, and goes together in the next (group commit). `run`
    answers a batch with one result per piece, in order. A batch that fails is run again a
    piece at a time, so one bad piece fails alone; but when the database itself failed it
    (`DatabaseUnavailable`, after its retries), every piece hears so at once.

    Work that can wait names what it gives way to (`behind`): each of its batches starts once
    that has had nothing to do for a moment, or after `patience` seconds at most.

    Work that comes in bursts can wait for company (`gather`): a batch begun while nothing
    was running waits until no new piece has come for `gather` seconds, or it is full, or
    `gather_most` seconds have passed. The first few pieces of a burst then go with the ones
    right behind them instead of alone, and a lone piece waits `gather` seconds."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R]]],
        limit: int,
        *,
        behind: Batches[Any, Any] | None = None,
        patience: float = 0.0,
        gather: float = 0.0,
        gather_most: float = 0.0,
    ) -> None:
        self._run = run
        self._limit = limit
        self._behind = behind
        self._patience = patience
        self._gather = gather
        self._gather_most = gather_most
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()  # set while no piece waits and no batch runs
        self.idle.set()
        self.idle_since = 0.0  # the event loop's time when it last became idle

    async def submit(self, piece: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((piece, future))
        self.idle.clear()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await self._wait_for_company()
            while self._pending:
                await self._give_way()
                batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
                await self._settle(batch)
        finally:
            if not self._pending:
                self.idle_since = asyncio.get_running_loop().time()
                self.idle.set()

    async def _wait_for_company(self) -> None:
        """Before the first batch after an idle spell: let the rest of a burst come in."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self._gather_most
        while self._gather > 0 and len(self._pending) < self._limit:
            left = until - loop.time()
            if left <= 0:
                return
            came = len(self._pending)
            await asyncio.sleep(min(self._gather, left))
            if len(self._pending) == came:
                return  # nothing new for `gather` seconds: not a burst, or its end

    async def _give_way(self) -> None:
        """Wait until what this gives way to has been idle for `QUIET` seconds (a burst comes
        in waves, with pauses shorter than that), or `patience` seconds at most."""
        if self._behind is None:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + self._patience
        while (left := until - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._behind.idle.wait(), left)
            except TimeoutError:
                return
            still = QUIET - (loop.time() - self._behind.idle_since)
            if still <= 0:
                return
            await asyncio.sleep(min(still, left))

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([piece for piece, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - handed to its awaiters, who raise it
            if len(batch) > 1 and not _fails_all(error):
                for one in batch:
                    await self._settle([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its awaiter may have been cancelled
                future.set_result(result)


def _fails_all(error: Exception) -> bool:
    """A failure every piece would meet alone too: the database, not the batch."""
    return isinstance(error, DatabaseUnavailable) or is_transient(error)


@dataclass
class Database:
    """The engine and the session factories; services open their own unit of work from it."""

    url: str
    engine: AsyncEngine
    read_slots: int = READ_SLOTS
    write_slots: int = WRITE_SLOTS
    # Answers kept with the data version they were read at (storage/versions.py).
    memo: Memo = field(default_factory=Memo, repr=False)
    _reads: Slots = field(init=False, repr=False)
    _writes: Slots = field(init=False, repr=False)

    @classmethod
    def connect(cls, url: str, *, echo: bool = False) -> Database:
        return cls(url=url, engine=create_engine(url, echo=echo))

    def __post_init__(self) -> None:
        self._write_sessions = async_sessionmaker(
            for_writing(self.engine), class_=AsyncSession, expire_on_commit=False
        )
        self._read_sessions = async_sessionmaker(
            for_reading(self.engine), class_=AsyncSession, expire_on_commit=False
        )
        self._versions = version_source(self.url)
        self._checkpoints = sqlite_checkpoints(self.url)
        self._reads = Slots(self.read_slots)
        # The same number of write slots on SQLite: its writers take turns on the file lock
        # (`BEGIN IMMEDIATE`, waiting for it between attempts), and a single slot here
        # deadlocked a sender whose unit waits on another unit (a round's directory read).
        self._writes = Slots(self.write_slots)

    @property
    def waiting(self) -> dict[str, int]:
        """Units of work waiting for a slot, by kind (for `/metrics`)."""
        return {"read": self._reads.waiting, "write": self._writes.waiting}

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write unit of work: commits on success, rolls back on any error.

        Waits for a write slot rather than failing when many are busy. The body runs once:
        use `transact()` where a transient failure should be tried again."""
        async with self._writes, self._write_sessions() as session:
            try:
                yield session
                await write_deferred(session)
                await session.commit()
                self._versions.committed()  # a version read begun before now is too old for us
                if self._checkpoints is not None:
                    self._checkpoints.committed()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def rehearsal(self) -> AsyncIterator[AsyncSession]:
        """A write unit that is always rolled back: it runs a path's statements (compiled, and
        on PostgreSQL prepared, as they would be for real) and changes nothing."""
        async with self._writes, self._write_sessions() as session:
            try:
                yield session
                await write_deferred(session)
                await session.flush()
            finally:
                await session.rollback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work, on its own slots so reads never queue behind writes;
        nothing to commit, so no commit round trip (hot paths)."""
        async with self._reads, self._read_sessions() as session:
            yield session

    async def transact(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a write unit, again from the start after a transient failure.

        `work` must only touch the database (a retried unit must not have told anyone
        anything). Raises DatabaseUnavailable when every attempt failed that way."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.session() as session:
                    return await work(session)
            except Exception as error:
                if not is_transient(error):
                    raise
                if attempt == ATTEMPTS:
                    raise DatabaseUnavailable(str(error)) from error
                delay = min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2 ** (attempt - 1))
                delay *= 0.5 + random.random()  # replicas retrying together should not collide
                log.warning("transient database failure (attempt %s): %s", attempt, error)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def data_version(self) -> str | None:
        """What the data is at: it moves whenever a write commits, in any process. Read it
        before the rows an answer kept in `memo` is made of. None when it cannot be told."""
        return await self._versions.read()

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._checkpoints is not None:
            await self._checkpoints.close()
        await self._versions.close()
        await self.engine.dispose()
