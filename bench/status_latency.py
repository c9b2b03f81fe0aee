"""SPEC §6: `/okr status` on 200 objectives, 1,000 KRs and 100,000 updates, 20 requests at
once: p50/p95/p99 from sending the signed request to the answer reaching the stand-in.

    .venv/bin/python -m bench.status_latency [--requests 400] [--concurrency 20] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import platform
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from bot.sandbox import Sandbox, sandbox
from storage.models import (
    Cycle,
    KeyResult,
    KrUpdate,
    Membership,
    Objective,
    Team,
    Workspace,
)
from tests.support.postgres import start_server

_tags = itertools.count()
NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)
TEAMS, OBJECTIVES_PER_TEAM, KRS_PER_OBJECTIVE, UPDATES_PER_KR = 20, 10, 5, 100


async def populate(box: Sandbox) -> list[tuple[str, str]]:
    """The workspace; returns (user, channel) pairs, one per team."""
    ws = box.standin.team_id
    async with box.database.session() as session:
        session.add(Workspace(id=ws))
        await session.flush()
        cycle = Cycle(
            workspace_id=ws, name="2026-Q4", start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 31)
        )
        session.add(cycle)
        await session.flush()
        teams = [
            Team(workspace_id=ws, name=f"Team {i:02}", channel_id=f"C0T{i:03}")
            for i in range(TEAMS)
        ]
        session.add_all(teams)
        await session.flush()
        session.add_all(
            Membership(workspace_id=ws, team_id=team.id, user_id=f"U0T{i:03}", role="member")
            for i, team in enumerate(teams)
        )
        objectives = [
            Objective(
                workspace_id=ws,
                team_id=team.id,
                cycle_id=cycle.id,
                title=f"Objective {t}.{o}",
                owner_id=f"U0T{t:03}",
                position=o,
            )
            for t, team in enumerate(teams)
            for o in range(OBJECTIVES_PER_TEAM)
        ]
        session.add_all(objectives)
        await session.flush()
        krs = [
            KeyResult(
                workspace_id=ws,
                number=o * KRS_PER_OBJECTIVE + k + 1,
                objective_id=objective.id,
                title=f"Key result {o}.{k} from 0 to 100",
                owner_id=objective.owner_id,
                start=0,
                target=100,
                current=(o * 7 + k * 13) % 100,
                unit="points",
                position=k,
            )
            for o, objective in enumerate(objectives)
            for k in range(KRS_PER_OBJECTIVE)
        ]
        session.add_all(krs)
        await session.flush()
        rows = [
            {
                "workspace_id": ws,
                "kr_id": kr.id,
                "old_value": u,
                "new_value": u + 1,
                "source": "dm",
                "author_id": kr.owner_id,
                "created_at": NOW - dt.timedelta(hours=u),
            }
            for kr in krs
            for u in range(UPDATES_PER_KR)
        ]
        for start in range(0, len(rows), 5000):
            await session.exec(insert(KrUpdate), params=rows[start : start + 5000])  # type: ignore[call-overload]
    return [(f"U0T{i:03}", f"C0T{i:03}") for i in range(TEAMS)]


async def measure(
    box: Sandbox, callers: list[tuple[str, str]], total: int, concurrency: int
) -> list[float]:
    """Latencies in ms, `concurrency` requests in flight at a time."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        user, channel = callers[index % len(callers)]
        tag = f"r{next(_tags)}"
        url = box.standin.response_url(tag)
        async with gate:
            started = time.monotonic()
            answer = await box.sender.slash_command(
                "/okr", "status", user_id=user, channel_id=channel, response_url=url
            )
            assert answer.status == 200, answer.body
            (call,) = await box.standin.wait_for(
                "response_url", where=lambda c: c.params.get("_tag") == tag, timeout=30
            )
            latencies.append((call.at - started) * 1000)
            assert "Objective" in str(call.params["blocks"])

    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_backend(name: str, url: str, total: int, concurrency: int) -> None:
    async with sandbox(url, clock=lambda: NOW) as box:
        for i in range(TEAMS):
            box.standin.add_user(f"U0T{i:03}", name=f"user{i}")
        began = time.perf_counter()
        callers = await populate(box)
        objectives = TEAMS * OBJECTIVES_PER_TEAM
        krs = objectives * KRS_PER_OBJECTIVE
        print(
            f"{name}: workspace built in {time.perf_counter() - began:.1f} s "
            f"({objectives} objectives, {krs} KRs, {krs * UPDATES_PER_KR} updates)"
        )
        await measure(box, callers, TEAMS, concurrency)  # warm-up: locales, pools, caches
        latencies = await measure(box, callers, total, concurrency)
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    verdict = "meets" if p99 < 100 else "MISSES"
    print(
        f"{name}: {total} requests, {concurrency} at once: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms ({verdict} p99 < 100 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await run_backend(
                "sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.requests, args.concurrency
            )
    if args.backend in ("postgresql", "both"):
        server = start_server()
        try:
            server.psql("CREATE DATABASE bench")
            await run_backend("postgresql", server.url("bench"), args.requests, args.concurrency)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
