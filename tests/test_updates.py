"""The one write path for changes: permissions, history, KPI-linked KRs, undo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.domain import Source
from bot.errors import NotAllowed
from bot.progress import KpiStatus, KrStatus
from bot.services.imports import import_file
from bot.services.updates import (
    Actor,
    Origin,
    log_kpi,
    period_of,
    set_initiative_status,
    undo_reply,
    update_kr,
)
from storage.db import Database
from storage.models import Initiative, KeyResult, Kpi, KpiMeasurement, KrUpdate, ReplyMessage

SEED = Path(__file__).resolve().parents[1] / "examples" / "okrs.yaml"
WS = "T1"
NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


async def resolve(email: str) -> str | None:
    return "U0BOB"


@pytest.fixture
async def seeded(database: Database) -> Database:
    await import_file(
        database=database,
        workspace_id=WS,
        text=SEED.read_text(),
        filename="s",
        resolve_email=resolve,
    )
    return database


async def kr_by_number(database: Database, number: int) -> KeyResult:
    async with database.session() as session:
        return (await session.exec(select(KeyResult).where(KeyResult.number == number))).one()


def actor(user: str, source: Source = Source.COMMAND) -> Actor:
    return Actor(WS, user, source)


@pytest.mark.parametrize("user", ["U0ALICE", "U0MANAGER"])  # KR owner; objective owner and manager
async def test_allowed_people_update_a_kr(seeded: Database, user: str) -> None:
    nps = await kr_by_number(seeded, 1)
    change = await update_kr(
        database=seeded, actor=actor(user), kr_id=nps.id, value=76, note="good week", now=NOW
    )
    assert (change.old, change.new, round(change.progress, 2)) == (74, 76, 0.6)
    assert change.status is KrStatus.ON_TRACK
    async with seeded.session() as session:
        row = (await session.exec(select(KrUpdate))).one()
    assert (row.author_id, row.source, row.old_value, row.new_value, row.note) == (
        user,
        "command",
        74,
        76,
        "good week",
    )


async def test_a_stranger_may_not_update_and_nothing_is_stored(seeded: Database) -> None:
    nps = await kr_by_number(seeded, 1)
    with pytest.raises(NotAllowed) as caught:
        await update_kr(database=seeded, actor=actor("U0GITA"), kr_id=nps.id, value=99)
    assert caught.value.params == {"kr": "KR-1"}
    assert (await kr_by_number(seeded, 1)).current == 74
    async with seeded.session() as session:
        assert (await session.exec(select(KrUpdate))).all() == []


async def test_logging_a_kpi_moves_its_linked_kr(seeded: Database) -> None:
    async with seeded.session() as session:
        art = (await session.exec(select(Kpi).where(Kpi.name == "Average reply time"))).one()
    changes = await log_kpi(
        database=seeded, actor=actor("U0CAROL"), kpi_id=art.id, value=4.8, now=NOW
    )
    kpi_change, kr_change = changes
    assert (kpi_change.old, kpi_change.new, kpi_change.status) == (5.2, 4.8, KpiStatus.WARN)
    assert (kr_change.old, kr_change.new, kr_change.via_kpi) == (5.2, 4.8, "Average reply time")
    async with seeded.session() as session:
        row = (
            await session.exec(
                select(KpiMeasurement).where(
                    KpiMeasurement.kpi_id == art.id, KpiMeasurement.period == "2026-11"
                )
            )
        ).one()
        history = (await session.exec(select(KrUpdate))).one()
    assert row.value == 4.8 and history.source == "kpi"


async def test_initiative_status_by_its_owner(seeded: Database) -> None:
    async with seeded.session() as session:
        chat = (
            await session.exec(select(Initiative).where(Initiative.title.startswith("Add chat")))
        ).one()
    change = await set_initiative_status(
        database=seeded, actor=actor("U0BOB"), initiative_id=chat.id, status="done"
    )
    assert (change.old, change.new) == ("in_progress", "done")


async def test_undo_reverts_exactly_one_reply(seeded: Database) -> None:
    nps = await kr_by_number(seeded, 1)
    async with seeded.session() as session:
        first = ReplyMessage(workspace_id=WS, channel_id="D0ALICE", ts="1.1", user_id="U0ALICE")
        second = ReplyMessage(workspace_id=WS, channel_id="D0ALICE", ts="1.2", user_id="U0ALICE")
        session.add_all([first, second])
        await session.flush()
        ids = (first.id, second.id)
    dm = actor("U0ALICE", Source.DM)
    await update_kr(
        database=seeded,
        actor=dm,
        kr_id=nps.id,
        value=75,
        confidence=8,
        origin=Origin(reply_id=ids[0]),
    )
    await update_kr(
        database=seeded,
        actor=dm,
        kr_id=nps.id,
        value=77,
        confidence=4,
        origin=Origin(reply_id=ids[1]),
    )
    changes = await undo_reply(database=seeded, actor=dm, reply_id=ids[1])
    assert [(c.old, c.new) for c in changes] == [(77, 75)]
    kr = await kr_by_number(seeded, 1)
    assert (kr.current, kr.confidence) == (75, 8)
    assert await undo_reply(database=seeded, actor=dm, reply_id=ids[1]) == []
    with pytest.raises(NotAllowed):
        await undo_reply(database=seeded, actor=actor("U0MANAGER"), reply_id=ids[0])
    async with seeded.session() as session:
        standing = (
            await session.exec(select(KrUpdate).where(col(KrUpdate.reverted).is_(False)))
        ).all()
    assert [row.new_value for row in standing] == [75]


def test_periods() -> None:
    assert period_of(dt.date(2026, 11, 16), "monthly") == "2026-11"
    assert period_of(dt.date(2026, 11, 16), "weekly") == "2026-W47"
    assert period_of(dt.date(2027, 1, 1), "weekly") == "2026-W53"
