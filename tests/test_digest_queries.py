"""SPEC §6: the queries behind a digest do not grow with the number of KRs and updates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert

from bot.services.digests import gather_digest
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Cycle,
    DigestSent,
    Initiative,
    InitiativeUpdate,
    KeyResult,
    Kpi,
    KpiMeasurement,
    KrUpdate,
    Membership,
    Objective,
    Person,
    Team,
    Workspace,
    utcnow,
)

WS = "T1"
NOW = dt.datetime(2026, 11, 17, 5, 0, tzinfo=dt.UTC)
MEMBERS = [f"U0M{i}" for i in range(5)]
ROUNDS = 3


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    """Every query sent to the database while the block runs. Transaction control is not a
    query: on SQLite okrbot says BEGIN itself (see storage/db.py), asyncpg does it unseen."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def build_team(database: Database, cycle_id: int, name: str, krs: int) -> int:
    """A team with `krs` KRs (5 per objective), three rounds with notes on every KR, prompts,
    KPIs with measurements and moved initiatives."""
    async with database.session() as session:
        team = Team(workspace_id=WS, name=name, channel_id=f"C{name}")
        session.add(team)
        await session.flush()
        session.add(Membership(workspace_id=WS, team_id=team.id, user_id="U0BOSS", role="manager"))
        session.add_all(
            Membership(workspace_id=WS, team_id=team.id, user_id=user, role="member")
            for user in MEMBERS
        )
        objectives = [
            Objective(workspace_id=WS, team_id=team.id, cycle_id=cycle_id, title=f"O{o}")
            for o in range(krs // 5)
        ]
        session.add_all(objectives)
        await session.flush()
        rows = [
            KeyResult(
                workspace_id=WS,
                number=(team.id or 0) * 10_000 + i,
                objective_id=objectives[i // 5].id,
                title=f"KR {i}",
                owner_id=MEMBERS[i % 5],
                start=0,
                target=100,
                current=i % 100,
                confidence=i % 10,
            )
            for i in range(krs)
        ]
        session.add_all(rows)
        rounds = [
            CheckinRound(
                workspace_id=WS,
                team_id=team.id,
                scheduled_for=NOW - dt.timedelta(days=7 * r),
                closes_at=NOW,
                closed_at=NOW,
            )
            for r in range(ROUNDS)
        ]
        session.add_all(rounds)
        await session.flush()
        await _history(session, team.id or 0, rows, objectives, rounds)
    return team.id or 0


async def _history(
    session: Any, team_id: int, krs: list[KeyResult], objectives: list[Objective], rounds: list
) -> None:
    session.add_all(
        CheckinPrompt(workspace_id=WS, round_id=r.id, user_id=user, state=state)
        for r in rounds
        for user, state in zip(
            MEMBERS, ["answered", "sent", "skipped", "away", "answered"], strict=True
        )
    )
    updates = [
        {
            "workspace_id": WS,
            "kr_id": kr.id,
            "old_value": kr.current - 1,
            "new_value": kr.current,
            "note": f"blocked on thing {kr.id % 3}",
            "source": "dm",
            "author_id": kr.owner_id,
            "round_id": r.id,
            "created_at": utcnow(),
        }
        for kr in krs
        for r in rounds
    ]
    await session.exec(insert(KrUpdate), params=updates)
    kpis = [
        Kpi(workspace_id=WS, team_id=team_id, name=f"K{team_id}.{k}", target=10, warn=8)
        for k in range(2)
    ]
    initiatives = [
        Initiative(workspace_id=WS, kr_id=krs[i * 5].id, title=f"I{i}")
        for i in range(len(objectives))
    ]
    session.add_all([*kpis, *initiatives])
    await session.flush()
    session.add_all(
        KpiMeasurement(workspace_id=WS, kpi_id=kpi.id, period=f"2026-{m:02}", value=m, source="dm")
        for kpi in kpis
        for m in range(1, 7)
    )
    session.add_all(
        InitiativeUpdate(
            workspace_id=WS,
            initiative_id=i.id,
            old_status="planned",
            new_status="done",
            source="dm",
        )
        for i in initiatives
    )


async def queries_for(database: Database, team_id: int) -> int:
    with counting(database) as statements:
        digest = await gather_digest(database=database, team_id=team_id, now=NOW)
    assert digest is not None and digest.key_results and digest.notes and digest.participation
    return len(statements)


async def mark_digest_sent(database: Database, team_id: int) -> None:
    async with database.session() as session:
        session.add(
            DigestSent(
                workspace_id=WS,
                team_id=team_id,
                period="before",
                manager_id="U0BOSS",
                snapshot={"krs": {}},
                sent_at=utcnow() - dt.timedelta(days=1),
            )
        )


async def test_queries_per_digest_do_not_grow_with_krs(database: Database) -> None:
    async with database.session() as session:
        session.add(Workspace(id=WS))
        await session.flush()
        session.add_all(Person(workspace_id=WS, user_id=user, locale="en") for user in MEMBERS)
        cycle = Cycle(
            workspace_id=WS, name="2026-Q4", start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 31)
        )
        session.add(cycle)
    small = await build_team(database, cycle.id or 0, "small", 10)
    large = await build_team(database, cycle.id or 0, "large", 1000)
    await queries_for(database, small)  # warm-up: connection set-up queries are not the digest's
    first = (await queries_for(database, small), await queries_for(database, large))
    for team in (small, large):
        await mark_digest_sent(database, team)
    later = (await queries_for(database, small), await queries_for(database, large))
    assert first[0] == first[1] and later[0] == later[1], (first, later)
    # Team with its last digest, the current cycle and its people; rounds with prompts; OKRs; KR
    # updates; KPIs with their measurements; initiative moves.
    assert first == later == (6, 6)
