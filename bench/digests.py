"""SPEC §6: building digests. 1,000 teams (10,000 KRs, 30,000 updates with notes, 3,000 rounds
with prompts, 2,000 KPIs, moved initiatives); each team's digest gathered from the database
and rendered for its manager and its channel, one after another. The bar: 1,000 digests in
under 5 s, with the same number of queries per digest whatever the number of KRs. Charts and
the full send (claims, Slack calls through the stand-in, chart upload) are timed separately.

    .venv/bin/python -m bench.digests [--teams 1000] [--charts 20] [--send 50] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bench.common import machine
from bot.blocks.digest import build_digest
from bot.charts import digest_chart
from bot.notify import send_digest
from bot.sandbox import Sandbox, sandbox
from bot.services.digests import Digest, gather_digest
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Cycle,
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
from tests.support.postgres import start_server

NOW = dt.datetime(2026, 11, 17, 5, 0, tzinfo=dt.UTC)
OBJECTIVES, KRS_PER_OBJECTIVE, MEMBERS, ROUNDS, KPIS, PERIODS = 2, 5, 5, 3, 2, 6
STATES = ("answered", "answered", "sent", "skipped", "away")
BATCH = 5000


def member(team_id: int, index: int) -> str:
    return f"U{team_id:06}{index}"


async def _insert(session: Any, model: type, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.exec(insert(model), params=rows[start : start + BATCH])


async def populate(database: Database, ws: str, teams: int) -> list[int]:
    """The generated workspace; returns the team ids."""
    async with database.session() as session:
        session.add(Workspace(id=ws))
        await session.flush()
        cycle = Cycle(
            workspace_id=ws, name="2026-Q4", start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 31)
        )
        rows = [
            Team(workspace_id=ws, name=f"Team {t:04}", channel_id=f"C{t:06}") for t in range(teams)
        ]
        session.add_all([cycle, *rows])
        await session.flush()
        team_ids = [team.id or 0 for team in rows]
        await _people(session, ws, team_ids)
        krs = await _okrs(session, ws, cycle.id or 0, team_ids)
        rounds = await _rounds(session, ws, team_ids)
        await _updates(session, ws, krs, rounds)
        await _kpis(session, ws, team_ids)
    return team_ids


async def _people(session: Any, ws: str, team_ids: list[int]) -> None:
    """Five members and one manager per team, with a known language."""
    people = [(t, member(t, m), "member") for t in team_ids for m in range(MEMBERS)]
    people += [(t, member(t, 9), "manager") for t in team_ids]
    memberships = [
        {"workspace_id": ws, "team_id": t, "user_id": u, "role": r} for t, u, r in people
    ]
    persons = [{"workspace_id": ws, "user_id": u, "locale": "en"} for _, u, _ in people]
    await _insert(session, Membership, memberships)
    await _insert(session, Person, persons)


async def _okrs(
    session: Any, ws: str, cycle_id: int, team_ids: list[int]
) -> list[tuple[int, KeyResult]]:
    """Objectives, their KRs (as (team id, KR)) and one moved initiative per objective."""
    objectives = [
        Objective(workspace_id=ws, team_id=t, cycle_id=cycle_id, title=f"Objective {o}")
        for t in team_ids
        for o in range(OBJECTIVES)
    ]
    session.add_all(objectives)
    await session.flush()
    krs = [
        (
            objective.team_id,
            KeyResult(
                workspace_id=ws,
                number=n * KRS_PER_OBJECTIVE + k + 1,
                objective_id=objective.id,
                title=f"Key result {k} of objective {n}",
                owner_id=member(objective.team_id, k),
                start=0,
                target=100,
                current=(n * 7 + k * 13) % 100,
                unit="points",
                confidence=(n + k) % 10 + 1,
            ),
        )
        for n, objective in enumerate(objectives)
        for k in range(KRS_PER_OBJECTIVE)
    ]
    session.add_all(kr for _, kr in krs)
    await session.flush()
    initiatives = [
        Initiative(workspace_id=ws, kr_id=kr.id or 0, title="Ship the thing")
        for _, kr in krs[::KRS_PER_OBJECTIVE]
    ]
    session.add_all(initiatives)
    await session.flush()
    moves = [
        {
            "workspace_id": ws,
            "initiative_id": i.id,
            "old_status": "planned",
            "new_status": "in_progress",
            "source": "dm",
            "created_at": utcnow(),
        }
        for i in initiatives
    ]
    await _insert(session, InitiativeUpdate, moves)
    return krs


async def _rounds(session: Any, ws: str, team_ids: list[int]) -> dict[int, list[int]]:
    """Three closed weekly rounds per team with five prompts each; round ids by team."""
    rounds = [
        CheckinRound(
            workspace_id=ws,
            team_id=t,
            scheduled_for=NOW - dt.timedelta(days=7 * r, hours=2),
            closes_at=NOW,
            closed_at=NOW,
        )
        for t in team_ids
        for r in range(ROUNDS)
    ]
    session.add_all(rounds)
    await session.flush()
    prompts = [
        {"workspace_id": ws, "round_id": r.id, "user_id": member(r.team_id, m), "state": STATES[m]}
        for r in rounds
        for m in range(MEMBERS)
    ]
    await _insert(session, CheckinPrompt, prompts)
    by_team: dict[int, list[int]] = {}
    for checkin in rounds:
        by_team.setdefault(checkin.team_id, []).append(checkin.id or 0)
    return by_team


async def _updates(
    session: Any, ws: str, krs: list[tuple[int, KeyResult]], rounds: dict[int, list[int]]
) -> None:
    """One update per KR per round; every third carries a blocker note."""
    rows = [
        {
            "workspace_id": ws,
            "kr_id": kr.id,
            "old_value": kr.current - 2,
            "new_value": kr.current,
            "note": "waiting on the vendor" if (kr.id or 0) % 3 == 0 else None,
            "source": "dm",
            "author_id": kr.owner_id,
            "round_id": round_id,
            "created_at": utcnow(),
        }
        for team_id, kr in krs
        for round_id in rounds[team_id]
    ]
    await _insert(session, KrUpdate, rows)


async def _kpis(session: Any, ws: str, team_ids: list[int]) -> None:
    """Two monthly KPIs per team with six periods each, one of them in `warn`."""
    kpis = [
        Kpi(workspace_id=ws, team_id=t, name=f"KPI {k} of team {t}", unit="%", target=10, warn=8)
        for t in team_ids
        for k in range(KPIS)
    ]
    session.add_all(kpis)
    await session.flush()
    rows = [
        {
            "workspace_id": ws,
            "kpi_id": kpi.id,
            "period": f"2026-{p + 1:02}",
            "value": 7 + p * (0.4 if (kpi.id or 0) % 2 else 0.6),
            "source": "dm",
        }
        for kpi in kpis
        for p in range(PERIODS)
    ]
    await _insert(session, KpiMeasurement, rows)


async def build_all(database: Database, team_ids: list[int]) -> tuple[float, int, list[Digest]]:
    """Seconds to gather and render every team's digest, the statements run, the digests."""
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    digests = []
    for team_id in team_ids:
        digest = await gather_digest(database=database, team_id=team_id, now=NOW)
        assert digest is not None and digest.notes and digest.participation
        build_digest(digest, "en")
        build_digest(digest, "en", for_channel=True)
        digests.append(digest)
    elapsed = time.perf_counter() - started
    event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    return elapsed, statements, digests


def time_charts(digests: list[Digest]) -> float:
    """Mean milliseconds to draw one chart."""
    started = time.perf_counter()
    for digest in digests:
        assert digest_chart(digest, "en")
    return (time.perf_counter() - started) * 1000 / max(1, len(digests))


async def time_sends(box: Sandbox, team_ids: list[int]) -> float:
    """Mean milliseconds to send one team's digest for real: claims, DM, channel, chart."""
    started = time.perf_counter()
    for team_id in team_ids:
        report = await send_digest(box.client, box.services, team_id=team_id, period="bench")
        assert report is not None and len(report.sent) == 2, report
    return (time.perf_counter() - started) * 1000 / max(1, len(team_ids))


async def run_backend(name: str, url: str, args: argparse.Namespace) -> None:
    async with sandbox(url, clock=lambda: NOW) as box:
        began = time.perf_counter()
        team_ids = await populate(box.database, box.standin.team_id, args.teams)
        for team_id in team_ids[: args.send]:
            for index in (*range(MEMBERS), 9):
                box.standin.add_user(member(team_id, index), name=member(team_id, index))
        print(
            f"{name}: workspace of {args.teams} teams built in {time.perf_counter() - began:.1f} s"
        )
        await build_all(box.database, team_ids[:20])  # warm-up: pools, caches
        elapsed, statements, digests = await build_all(box.database, team_ids)
        verdict = "meets" if elapsed < 5 else "MISSES"
        print(
            f"{name}: {len(team_ids)} digests (data + manager and channel blocks) in "
            f"{elapsed:.2f} s, {elapsed * 1000 / len(team_ids):.2f} ms each, "
            f"{statements / len(team_ids):.1f} queries each ({verdict} < 5 s for 1,000)"
        )
        print(
            f"{name}: chart {time_charts(digests[: args.charts]):.0f} ms each ({args.charts} drawn)"
        )
        if args.send:
            sent = await time_sends(box, team_ids[: args.send])
            print(
                f"{name}: full send {sent:.0f} ms per team "
                f"({args.send} teams: claims, DM, channel, chart)"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--charts", type=int, default=20)
    parser.add_argument("--send", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await run_backend("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args)
    if args.backend in ("postgresql", "both"):
        server = start_server()
        try:
            server.psql("CREATE DATABASE bench")
            await run_backend("postgresql", server.url("bench"), args)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
