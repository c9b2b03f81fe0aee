"""Shared fixtures: a clean environment, and a migrated database on SQLite and on PostgreSQL.

Every test that asks for `database` (or `db_url`) runs twice: on an SQLite file and on a
throwaway PostgreSQL server that this test run starts on loopback and stops at the end. Each
test gets a fresh database copied from a migrated template, so tests never see each other.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp.web_app
import pytest

from storage.db import Database
from storage.migrate import upgrade
from tests.support.postgres import PostgresServer, start_server

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
_ENV_PREFIXES = ("SLACK_", "OKRBOT_", "DATABASE_URL", "HOST", "PORT")
_counter = itertools.count()
_tests_run = itertools.count(1)
UNFREEZE_EVERY = 200


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's Slack tokens, database or `.env`."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) and name != "OKRBOT_PG_BINDIR":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def collect_between_tests() -> Iterator[None]:
    """Free each test's garbage between tests, not in the middle of the next one.

    A test leaves tens of thousands of objects in reference cycles (its app, engine, sockets).
    They outlive the young generations, so only a full collection frees them, and one that
    came due inside a later test paused its event loop for over a second (1.9 s by a fifth of
    the suite): a slash command missed Slack's 3 s acknowledgement and was answered 404.
    After each test, once its fixtures are gone, collect, then freeze what survives (the
    imports and session fixtures): later collections look only at newer objects. Every
    UNFREEZE_EVERY tests all of it is collected again, so whatever died after it was frozen
    is freed too.

    aiohttp also keeps the middleware chains of the last 1,024 applications in a module-level
    cache; it is emptied first, or it would keep every test's application alive. One server a
    process, as `okrbot run` has, is unaffected by either."""
    yield
    cache = getattr(aiohttp.web_app, "_cached_build_middleware", None)
    if cache is not None:  # a private name of aiohttp's: do nothing if it is gone
        cache.cache_clear()
    if next(_tests_run) % UNFREEZE_EVERY == 0:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _migrate(url: str) -> None:
    async def run() -> None:
        database = Database.connect(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    postgres_server.psql("CREATE DATABASE okrbot_template")
    _migrate(postgres_server.url("okrbot_template"))
    return "okrbot_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "okrbot.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "okrbot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"t{os.getpid()}_{next(_counter)}"
    server.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database with no tables at all, of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"e{os.getpid()}_{next(_counter)}"
    server.psql(f"CREATE DATABASE {name}")
    return server.url(name)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    database = Database.connect(db_url)
    try:
        yield database
    finally:
        await database.dispose()
