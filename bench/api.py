"""The HTTP API under load (issue #10 item 8): KPI pushes a second and their p99 at 20
closed-loop clients, against the bare Bolt app's request rate measured in the same run.

Per backend: SPEC §6's bench workspace (`bench/workspace.py`, its KPIs), a token with
`kpis:write`, and `okrbot run --http` in a process of its own with the per-token rate limit
lifted (`OKRBOT_API_RATE`), so the figure is the app's capacity, not the limit's. Then:

1. floor: the bare Bolt app (`bench.floor`) answering signed `/okr status` in its ack, 20
   closed-loop clients (`--floor-requests`): requests a second and p50/p99.
2. push: `POST /api/v1/kpis/{id}/measurements` round-robin over the workspace's KPIs, values
   inside the KPIs' targets (no alert fires: the plain write path), 20 closed-loop clients
   (`--requests`): requests a second (and as a share of the floor's), p50/p99, errors (any
   answer but 201/200), and lost pushes read back from the database afterwards.

Reports a table; asserts nothing (exit status 0).

    .venv/bin/python -m bench.api [--backend sqlite|postgresql|both] [--teams 20]
        [--requests 2000] [--floor-requests 1000] [--timeout 30]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import func
from sqlmodel import col, select

from bench.common import (
    APP_COMMAND,
    SECRET,
    WORKSPACE,
    app_env,
    for_each_backend,
    machine,
    percentile,
    postgres_version,
    start_floor,
    start_server_process,
    stop_process,
)
from bench.load import Table, closed_loop, duration
from bench.workspace import BenchWorkspace, populate
from bot.services.tokens import create_token
from bot.standin.sender import SignedSender
from bot.standin.server import SlackStandin
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Kpi, KpiMeasurement

CLIENTS = 20
WARM_UP = 40
TOKEN_NAME = "bench"
# Far above what one process serves: the bench measures the app, not the token bucket.
UNLIMITED = "1000000"


@dataclass
class Timed:
    """Latencies of the requests that went right, and what went wrong with the others."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentiles(self) -> str:
        if not self.latencies:
            return "-"
        p50, p99 = (duration(percentile(self.latencies, q)) for q in (50, 99))
        return f"{p50} / {p99}"

    def error_text(self) -> str:
        return ", ".join(f"{count} {what}" for what, count in self.errors.most_common()) or "0"


async def timed(jobs: list[Callable[[], Awaitable[str | None]]], clients: int) -> Timed:
    """Run `jobs` (each returns None, or what went wrong) closed-loop; time each one."""
    result = Timed()

    def clocked(job: Callable[[], Awaitable[str | None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            started = time.monotonic()
            error = await job()
            if error is None:
                result.latencies.append(time.monotonic() - started)
            else:
                result.errors[error] += 1

        return run

    began = time.monotonic()
    await closed_loop([clocked(job) for job in jobs], clients)
    result.elapsed = time.monotonic() - began
    return result


async def floor_phase(args: argparse.Namespace, workspace: BenchWorkspace, api_url: str) -> Timed:
    """The bare Bolt app answering `/okr status` in its ack."""
    process, base = await start_floor(api_url)
    callers = workspace.callers()
    try:
        async with SignedSender(
            base + "/slack/events", SECRET, team_id=WORKSPACE, timeout=args.timeout
        ) as sender:

            def ask(index: int) -> Callable[[], Awaitable[str | None]]:
                user, channel = callers[index % len(callers)]

                async def job() -> str | None:
                    try:
                        reply = await sender.slash_command(
                            "/okr", "status", user_id=user, channel_id=channel,
                            response_url="http://127.0.0.1:9/unused",
                        )  # fmt: skip
                    except (aiohttp.ClientError, TimeoutError):
                        return "no HTTP answer"
                    return None if reply.status == 200 else f"HTTP {reply.status}"

                return job

            await timed([ask(i) for i in range(WARM_UP)], CLIENTS)  # Bolt's auth.test, sockets
            return await timed([ask(i) for i in range(args.floor_requests)], CLIENTS)
    finally:
        await stop_process(process)


async def push_phase(
    args: argparse.Namespace, base: str, token: str, kpis: list[int]
) -> tuple[Timed, int]:
    """KPI values pushed through the API; the count of pushes answered 201/200."""
    period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    random.seed(10)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector
    ) as session:

        def push(index: int) -> Callable[[], Awaitable[str | None]]:
            url = f"{base}/api/v1/kpis/{kpis[index % len(kpis)]}/measurements"
            body = {"value": random.randint(100, 140), "period": period}  # inside the target

            async def job() -> str | None:
                try:
                    async with session.post(url, json=body) as answer:
                        await answer.read()
                        return None if answer.status in (200, 201) else f"HTTP {answer.status}"
                except (aiohttp.ClientError, TimeoutError):
                    return "no HTTP answer"

            return job

        warm = await timed([push(i) for i in range(WARM_UP)], CLIENTS)  # the token's scrypt
        result = await timed([push(i) for i in range(WARM_UP, WARM_UP + args.requests)], CLIENTS)
    return result, len(warm.latencies) + len(result.latencies)


async def stored_pushes(database: Database) -> int:
    async with database.read() as session:
        query = select(func.count()).where(col(KpiMeasurement.source) == f"api:{TOKEN_NAME}")
        return int((await session.exec(query)).one())


async def run_backend(args: argparse.Namespace, table: Table, name: str, url: str) -> None:
    """The floor, then the app's pushes, on a fresh bench workspace."""
    database = Database.connect(url)
    try:
        await upgrade(database)
        workspace = await populate(database, args.teams)
        issued = await create_token(
            database=database, workspace_id=WORKSPACE, name=TOKEN_NAME, scopes=("kpis:write",)
        )
        async with database.read() as session:
            kpis = list((await session.exec(select(Kpi.id).order_by(col(Kpi.id)))).all())
        print(f"{name}: {workspace.describe()}", flush=True)
        async with SlackStandin(team_id=WORKSPACE) as standin:
            for user in workspace.people:
                standin.add_user(user, name=user.lower())
            gc.freeze()
            floor = await floor_phase(args, workspace, standin.api_url)
            env = app_env(url, standin.api_url)
            env.update(OKRBOT_API_RATE=UNLIMITED, OKRBOT_API_BURST=UNLIMITED)
            with tempfile.TemporaryDirectory() as folder:
                process, base = await start_server_process(
                    APP_COMMAND, env, Path(folder) / "app.log"
                )
                try:
                    pushes, answered = await push_phase(args, base, issued.token, kpis)
                finally:
                    await stop_process(process)
        stored = await stored_pushes(database)
    finally:
        await database.dispose()
    table.add(
        name, "floor", f"requests answered per second, {CLIENTS} in flight", f"{floor.rate:.0f}"
    )
    table.add(name, "floor", f"p50 / p99, {CLIENTS} closed-loop clients", floor.percentiles())
    table.add(name, "floor", "errors", floor.error_text())
    share = f" ({pushes.rate / floor.rate:.3f}× floor)" if floor.rate else ""
    table.add(
        name,
        "push",
        f"KPI pushes answered per second, {CLIENTS} in flight",
        f"{pushes.rate:.1f}{share}",
    )
    table.add(name, "push", f"p50 / p99, {CLIENTS} closed-loop clients", pushes.percentiles())
    table.add(name, "push", "errors", pushes.error_text())
    table.add(
        name,
        "push",
        "lost (answered 201/200, not stored)",
        f"{max(answered - stored, 0)} of {answered}",
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--teams", type=int, default=20, help="teams of 5 members (5 KPIs each)")
    parser.add_argument("--requests", type=int, default=2000, help="KPI pushes measured")
    parser.add_argument("--floor-requests", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one request")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    print(f"machine: {machine()}; {postgres_version()}", flush=True)
    table = Table()
    try:
        await for_each_backend(
            args.backend, lambda name, url: run_backend(args, table, name, url), "api"
        )
    finally:
        table.print()


if __name__ == "__main__":
    asyncio.run(main())
