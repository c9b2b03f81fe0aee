"""Fan-out benchmark (SPEC §6): one check-in round to N members while the Slack stand-in
rate-limits `chat.postMessage` (HTTP 429 with Retry-After).

The stand-in runs here and counts what reached "Slack"; the senders are separate processes
(`python -m bench.fanout --worker …`) running the real check-in job, so they can be killed with
SIGKILL mid-round and restarted, or run as several replicas on one PostgreSQL. Prints, per
scenario: the time from the first send to the last prompt accepted, against the minimum the
limit allows ((N - burst) / rate), the counts of lost and duplicated prompts, and how many
abandoned claims were taken over and how many of those the taker found already delivered.

The loopback stand-in answers in about a millisecond, so a kill rarely finds a send in flight;
`--latency` holds each `chat.postMessage` answer that long (Slack's own take 0.1-0.3 s; the
message is stored after the wait, as if Slack finished it after the sender died), which
exposes the in-flight window on most kills. `--kills-only --runs N` repeats the kill scenarios.

    .venv/bin/python -m bench.fanout [--members 500] [--rate 10] [--burst 10] [--latency 0.2]
        [--backend sqlite|postgresql|both] [--kills-only] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import load_settings
from bot.domain import PromptState, Role
from bot.services.container import Services
from bot.slackclient import make_client
from bot.standin.server import Call, SlackStandin
from scheduler.jobs import PROMPT_EVENT, run_checkins
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    CheckinPrompt,
    Cycle,
    KeyResult,
    Membership,
    Objective,
    Person,
    Team,
    Workspace,
)
from tests.support.postgres import start_server

WORKSPACE = "T0BENCH"
BOT_TOKEN = "xoxb-bench"
LEASE_SECONDS = 5.0  # short, so a restarted sender takes over quickly; the product uses 2 min
WORKER_DEADLINE = 900.0  # a worker stops by itself after this many seconds, whatever happens
LATENCY_CALLS = 10**9  # `--latency` holds this many answers: every one in a run


# -- the workspace ---------------------------------------------------------------------------


def member(index: int) -> str:
    return f"U{index:06d}"


async def populate(database: Database, members: int) -> int:
    """A team of `members`, each owning one KR, whose check-in slot is the current minute."""
    now = dt.datetime.now(dt.UTC)
    async with database.session() as session:
        session.add(Workspace(id=WORKSPACE))
        await session.flush()
        cycle = Cycle(
            workspace_id=WORKSPACE,
            name="bench",
            start=now.date() - dt.timedelta(days=30),
            end=now.date() + dt.timedelta(days=60),
        )
        team = Team(
            workspace_id=WORKSPACE,
            name="Fan-out",
            checkin_schedule=f"{now.minute} {now.hour} {now.day} {now.month} *",
            checkin_timezone="UTC",
        )
        session.add_all([cycle, team])
        await session.flush()
        objective = Objective(
            workspace_id=WORKSPACE, team_id=team.id or 0, cycle_id=cycle.id or 0, title="Reach"
        )
        session.add(objective)
        await session.flush()
        for index in range(members):
            _add_member(session, team.id or 0, objective.id or 0, index)
        return team.id or 0


def _add_member(session: AsyncSession, team_id: int, objective_id: int, index: int) -> None:
    user = member(index)
    session.add_all(
        [
            Person(workspace_id=WORKSPACE, user_id=user, locale="en", timezone="UTC"),
            Membership(workspace_id=WORKSPACE, team_id=team_id, user_id=user, role=Role.MEMBER),
            KeyResult(
                workspace_id=WORKSPACE,
                number=index + 1,
                objective_id=objective_id,
                title=f"Grow metric {index}",
                owner_id=user,
                start=0,
                target=100,
                current=40,
            ),
        ]
    )


# -- a sender process ------------------------------------------------------------------------


async def round_done(database: Database, members: int) -> bool:
    """Every member has a prompt row and none is still only claimed."""
    async with database.session() as session:
        rows = (await session.exec(select(func.count()).select_from(CheckinPrompt))).one()
        claimed = (
            await session.exec(
                select(func.count()).where(col(CheckinPrompt.state) == PromptState.CLAIMED)
            )
        ).one()
    return rows == members and claimed == 0


async def worker(database_url: str, api_url: str, team_id: int, members: int) -> None:
    """Run the check-in job, as `okrbot run`'s sweep would, until the round is fully sent."""
    settings = load_settings(
        slack_bot_token=BOT_TOKEN, slack_api_url=api_url, database_url=database_url
    )
    database = Database.connect(database_url)
    services = Services(settings=settings, database=database)
    client = make_client(settings)
    lease = dt.timedelta(seconds=LEASE_SECONDS)
    deadline = time.monotonic() + WORKER_DEADLINE
    try:
        while time.monotonic() < deadline:
            await run_checkins(services, client, team_id, lease=lease)
            if await round_done(database, members):
                return
            await asyncio.sleep(0.5)
    finally:
        await database.dispose()


Proc = asyncio.subprocess.Process


async def spawn(database_url: str, api_url: str, team_id: int, members: int, log: Path) -> Proc:
    """A sender process (`--worker`); its errors go to `log`."""
    with log.open("ab") as errors:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fanout",
            "--worker",
            database_url,
            api_url,
            str(team_id),
            str(members),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
        )


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Watch:
    """What reached the stand-in: accepted prompts per member, 429s, first and last times, and
    the take-overs' history checks (each member's DM holds only this round's prompt, so a
    prompt in a check's answer is the one looked for)."""

    members: int
    accepted: Counter[str] = field(default_factory=Counter)
    limited: int = 0
    first: float | None = None
    last: float = 0.0
    taken_over: int = 0
    found_delivered: int = 0
    half: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, call: Call) -> None:
        if call.method == "conversations.history" and call.response.get("ok"):
            self._history_checked(call)
        if call.method != "chat.postMessage":
            return
        self.first = call.at if self.first is None else self.first
        if call.status == 429:
            self.limited += 1
        elif call.response.get("ok"):
            self.accepted[str(call.params.get("channel"))] += 1
            self.last = call.at
            if sum(self.accepted.values()) >= self.members // 2:
                self.half.set()

    def _history_checked(self, call: Call) -> None:
        self.taken_over += 1
        messages = call.response.get("messages") or []
        kinds = [(m.get("metadata") or {}).get("event_type") for m in messages]
        if PROMPT_EVENT in kinds:
            self.found_delivered += 1

    def report(self, name: str, rate: float, burst: int, note: str = "") -> str:
        """One line; a killed run's time includes the restart and the lease, so only its
        counts are held to the bar."""
        minimum = max(self.members - burst, 0) / rate
        elapsed = self.last - (self.first or self.last)
        lost = self.members - len(self.accepted)
        duplicated = sum(count - 1 for count in self.accepted.values() if count > 1)
        fast = bool(note) or elapsed <= 1.15 * minimum
        bar = "0 lost, 0 duplicated" if note else "≤ 1.15x, 0 lost, 0 duplicated"
        verdict = "meets" if fast and not lost and not duplicated else "MISSES"
        return (
            f"{name}: {self.members} prompts in {elapsed:.1f} s, minimum {minimum:.1f} s "
            f"({elapsed / minimum:.3f}x), {self.limited} × 429, lost {lost}, "
            f"duplicated {duplicated}, {self.taken_over} taken over "
            f"({self.found_delivered} found already delivered) ({verdict} {bar}){note}"
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    replicas: int = 1
    kill: bool = False


async def run_scenario(scenario: Scenario, url: str, args: argparse.Namespace, log: Path) -> str:
    database = Database.connect(url)
    await upgrade(database)
    team_id = await populate(database, args.members)
    await database.dispose()
    async with SlackStandin(team_id=WORKSPACE) as standin:
        for index in range(args.members):
            standin.add_user(member(index), name=f"m{index}")
        standin.rate_limit("chat.postMessage", per_second=args.rate, burst=args.burst)
        if args.latency > 0:
            standin.slow("chat.postMessage", args.latency, times=LATENCY_CALLS)
        watch = Watch(args.members)
        standin.subscribe(watch.seen)
        spawn_one = partial(spawn, url, standin.api_url, team_id, args.members, log)
        senders = [await spawn_one() for _ in range(scenario.replicas)]
        note = ""
        if scenario.kill:
            note = await kill_and_restart(senders, spawn_one, watch, args.rate)
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in senders)), WORKER_DEADLINE)
        await asyncio.sleep(0.2)  # calls still being answered
    return watch.report(scenario.name, args.rate, args.burst, note)


async def kill_and_restart(
    senders: list[Proc], spawn_one: Callable[[], Awaitable[Proc]], watch: Watch, rate: float
) -> str:
    """SIGKILL every sender at a random moment past half the round, then start one again."""
    await watch.half.wait()
    await asyncio.sleep(random.uniform(0, 1 / rate))
    for sender in senders:
        sender.send_signal(signal.SIGKILL)
        await sender.wait()
    sent = sum(watch.accepted.values())
    killed_at = time.monotonic()
    senders[:] = [await spawn_one()]
    return (
        f"; killed after {sent} sent, {killed_at - (watch.first or 0):.1f} s in, restarted "
        f"(time includes the restart and the {LEASE_SECONDS:g} s lease)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="chat.postMessage per second")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds each chat.postMessage answer is held"
    )
    parser.add_argument("--kills-only", action="store_true", help="only the SIGKILL scenarios")
    parser.add_argument("--runs", type=int, default=1, help="run the scenarios this many times")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"stand-in limit: chat.postMessage {args.rate:g}/s, burst {args.burst}, "
        f"latency {args.latency:g} s"
    )
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "workers.log"
        try:
            await run_all(args, Path(folder), log)
        finally:
            errors = log.read_text() if log.exists() else ""
            if "Traceback" in errors:
                print("worker errors:\n" + errors[-3000:])


SQLITE = (Scenario("sqlite"), Scenario("sqlite, kill -9 halfway and restart", kill=True))
POSTGRESQL = (
    Scenario("postgresql"),
    Scenario("postgresql, 3 replicas", replicas=3),
    Scenario("postgresql, 3 replicas all killed halfway, one restarted", replicas=3, kill=True),
)


def chosen(scenarios: tuple[Scenario, ...], args: argparse.Namespace) -> list[Scenario]:
    """The scenarios to run, `--runs` times over."""
    picked = [s for s in scenarios if s.kill or not args.kills_only]
    return picked * args.runs


async def run_all(args: argparse.Namespace, folder: Path, log: Path) -> None:
    if args.backend in ("sqlite", "both"):
        for index, scenario in enumerate(chosen(SQLITE, args)):
            url = f"sqlite:///{folder / f'fanout{index}.db'}"
            print(await run_scenario(scenario, url, args, log), flush=True)
    if args.backend in ("postgresql", "both"):
        server = start_server()
        try:
            for index, scenario in enumerate(chosen(POSTGRESQL, args)):
                server.psql(f"CREATE DATABASE fanout{index}")
                url = server.url(f"fanout{index}")
                print(await run_scenario(scenario, url, args, log), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        url, api, team, count = sys.argv[2:]
        asyncio.run(worker(url, api, int(team), int(count)))
    else:
        asyncio.run(main())
