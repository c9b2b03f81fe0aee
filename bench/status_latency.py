"""SPEC §6: `/okr status` on 200 objectives, 1,000 KRs and 100,000 updates, 20 requests at
once: p50/p95/p99 from sending the signed request to the answer reaching the Slack stand-in.

The app runs as `okrbot run --http` in its own process, as in production; this process plays
Slack (the stand-in and the signed requests).

    .venv/bin/python -m bench.status_latency [--requests 400] [--concurrency 20] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from bot.standin.sender import SignedSender
from bot.standin.server import Call, SlackStandin
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Cycle, KeyResult, KrUpdate, Membership, Objective, Team, Workspace
from tests.support.postgres import start_server

WORKSPACE = "T0BENCH"
SECRET = "bench-signing-secret"
TEAMS, OBJECTIVES_PER_TEAM, KRS_PER_OBJECTIVE, UPDATES_PER_KR = 20, 10, 5, 100
# OKRBOT_BENCH_PROFILE=FILE profiles the app process with cProfile into FILE.
_PROFILE = os.environ.get("OKRBOT_BENCH_PROFILE")
APP_COMMAND = [
    sys.executable,
    *(["-m", "cProfile", "-o", _PROFILE] if _PROFILE else []),
    "-m",
    "bot.cli",
]
NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


async def populate(database: Database) -> list[tuple[str, str]]:
    """The workspace; returns (user, channel) pairs, one per team."""
    ws = WORKSPACE
    async with database.session() as session:
        session.add(Workspace(id=ws))
        await session.flush()
        cycle = Cycle(
            workspace_id=ws, name="Q4", start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 31)
        )
        teams = [
            Team(workspace_id=ws, name=f"Team {i:02}", channel_id=f"C0T{i:03}")
            for i in range(TEAMS)
        ]
        session.add_all([cycle, *teams])
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


class Answers:
    """Futures for response_url posts, resolved as the stand-in records them."""

    def __init__(self, standin: SlackStandin) -> None:
        self.standin = standin
        self.waiting: dict[str, asyncio.Future[Call]] = {}
        self.tags = itertools.count()
        standin.subscribe(self._seen)

    def _seen(self, call: Call) -> None:
        future = self.waiting.pop(str(call.params.get("_tag")), None)
        if future is not None and not future.done():
            future.set_result(call)

    def expect(self) -> tuple[str, asyncio.Future[Call]]:
        tag = f"r{next(self.tags)}"
        future = asyncio.get_running_loop().create_future()
        self.waiting[tag] = future
        return self.standin.response_url(tag), future


async def measure(
    sender: SignedSender,
    answers: Answers,
    callers: list[tuple[str, str]],
    total: int,
    concurrency: int,
) -> list[float]:
    """Latencies in ms, `concurrency` requests in flight at a time."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        user, channel = callers[index % len(callers)]
        url, answered = answers.expect()
        async with gate:
            started = time.monotonic()
            reply = await sender.slash_command(
                "/okr", "status", user_id=user, channel_id=channel, response_url=url
            )
            assert reply.status == 200, reply.body
            call = await asyncio.wait_for(answered, timeout=30)
            latencies.append((call.at - started) * 1000)
            assert call.status == 200 and "Objective" in str(call.params["blocks"]), call.response

    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_app(database_url: str, api_url: str) -> tuple[asyncio.subprocess.Process, str]:
    """`okrbot run --http` on a free loopback port, once `/healthz` answers."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_API_URL": api_url,
        "HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
    }
    env.pop("SLACK_APP_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--http",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        return process, base
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("okrbot run did not become healthy")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run_backend(name: str, url: str, total: int, concurrency: int) -> None:
    database = Database.connect(url)
    await upgrade(database)
    began = time.perf_counter()
    callers = await populate(database)
    await database.dispose()
    krs = TEAMS * OBJECTIVES_PER_TEAM * KRS_PER_OBJECTIVE
    print(
        f"{name}: workspace built in {time.perf_counter() - began:.1f} s "
        f"({TEAMS * OBJECTIVES_PER_TEAM} objectives, {krs} KRs, {krs * UPDATES_PER_KR} updates)"
    )
    async with SlackStandin(team_id=WORKSPACE) as standin:
        for user, _ in callers:
            standin.add_user(user, name=user.lower())
        process, base = await start_app(url, standin.api_url)
        gc.freeze()  # the stand-in plays Slack: keep its own collector pauses out of the figures
        try:
            async with SignedSender(base + "/slack/events", SECRET, team_id=WORKSPACE) as sender:
                answers = Answers(standin)
                await measure(sender, answers, callers, 2 * TEAMS, concurrency)  # warm-up
                latencies = await measure(sender, answers, callers, total, concurrency)
        finally:
            process.terminate()
            await process.wait()
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
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
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
