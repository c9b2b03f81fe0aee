"""Answers kept with the data version (storage/versions.py): `/okr status` asked again of
unchanged data runs no statement, and any write, from this replica or another, shows at once.
Through signed requests to the real app on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text, update

from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed
from storage.db import Database
from storage.models import KeyResult, Workspace
from storage.versions import PostgresVersion
from tests.support.statements import statements
from tests.test_app_http import text_of

NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def status(box: Sandbox) -> str:
    return text_of(await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS"))


async def test_status_asked_again_of_unchanged_data_runs_no_statement(box: Sandbox) -> None:
    first = await status(box)
    assert "Increase NPS from 70 to 80" in first
    with statements(box.database) as seen:
        again = await status(box)
    assert again == first
    assert seen == []
    await box.command("/okr", "update KR-1 79", user_id="U0ALICE")
    with statements(box.database) as seen:
        after = await status(box)
    assert after != first and "79" in after
    assert seen, "the write moved the data version: the status is read again"


async def test_a_write_by_another_replica_shows_in_the_next_status(box: Sandbox) -> None:
    before = await status(box)
    assert "90%" not in before
    other = Database.connect(box.database.url)  # another replica's engine, the same database
    try:
        async with other.session() as session:
            query = update(KeyResult).where(KeyResult.number == 1).values(current=79)
            await session.exec(query)  # type: ignore[call-overload]
    finally:
        await other.dispose()
    assert "90%" in await status(box)  # KR-1 from 70 to 80, now at 79


async def test_a_write_from_outside_the_app_shows_in_the_next_status(box: Sandbox) -> None:
    """Not only okrbot's own units of work: any commit to the database moves the version."""
    await status(box)
    engine = box.database.engine
    async with engine.connect() as connection:
        await connection.execute(text("UPDATE keyresult SET current = 79 WHERE number = 1"))
        await connection.commit()
    assert "90%" in await status(box)


async def test_readers_together_get_one_version_and_a_commit_moves_it(database: Database) -> None:
    """Readers arriving together share one version (on PostgreSQL, one snapshot read); a
    read after a commit sees the commit."""
    versions = await asyncio.gather(*(database.data_version() for _ in range(50)))
    assert len(set(versions)) == 1 and versions[0] is not None
    async with database.session() as session:
        session.add(Workspace(id="T0NEW", name="New"))
    assert await database.data_version() != versions[0]
    assert await database.data_version() == await database.data_version()


async def test_no_version_without_a_database_to_ask() -> None:
    """An in-memory SQLite database has nothing a second connection could watch: no answer is
    kept, each is read afresh."""
    database = Database.connect("sqlite://")
    try:
        assert await database.data_version() is None
    finally:
        await database.dispose()


async def test_a_read_in_flight_is_shared_unless_this_process_committed_since_it_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL a version read is a round trip: readers arriving while one is in flight
    share it, except after a commit of ours, which it might have missed: they wait for the
    next read. (The server's part is held back here, to arrive at the chosen moments.)"""
    source = PostgresVersion("postgresql://nowhere")
    gate, served = asyncio.Event(), []

    async def snapshot() -> str:
        await gate.wait()
        served.append(f"snapshot {len(served) + 1}")
        return served[-1]

    monkeypatch.setattr(source, "_snapshot", snapshot)
    first = asyncio.create_task(source.read())
    await asyncio.sleep(0.01)  # its read is in flight
    joined = asyncio.create_task(source.read())
    await asyncio.sleep(0.01)
    source.committed()
    after = asyncio.create_task(source.read())
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == await joined == "snapshot 1"
    assert await after == "snapshot 2"
    await source.close()
