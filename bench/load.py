"""SPEC §6 under load (issue #8): bursts of writes, a round of replies, closed- and open-loop
traffic, on SPEC §6's bench workspace, with the floor measured in the same run.

The app runs as `okrbot run --http` and the floor (`bench.floor`, a bare Bolt app) in processes
of their own; this process plays Slack: the stand-in, and requests signed as Slack signs them.
An answer is the HTTP 200 body when the app answers in its ack, else the first post to the
request's response_url (or, for a check-in reply, the confirmation posted in its thread). An
error is a non-200, an answer saying "something went wrong" (also when it follows a good one),
or no answer within `--timeout`. Phases, in order (`--phases` picks some):

1. floor: the bare Bolt app's request rate and p50/p99, 20 closed-loop clients.
2. burst: `--updates` `/okr update KR-n <value>` (each KR once, by its owner, a new value),
   at most 20 HTTP requests in flight (answers are awaited outside that limit, as Slack sends
   people's commands whatever the app still has to answer), while 5 closed-loop clients send
   `/okr status` from team channels (`--statuses` at most, none started after the last update
   was answered). Then, once the app is quiet, lost updates are read back from the database.
3. replies: a round to every member, then all reply at once (20 HTTP requests in flight), one
   `n: value` line per item of their prompt; confirmation times and replies read back.
4. status: `/okr status`, 20 closed-loop clients (`--requests`), against the floor's p99.
5. open: `/okr update` at a fixed arrival rate (`--rate` per second for `--duration` s), each
   sent at its scheduled time whatever the app's answers, timed from that time.

Reports; asserts nothing (exit status 0), but says for each SPEC §6 bar whether it was met.

    .venv/bin/python -m bench.load [--backend sqlite|postgresql|both] [--teams 20]
        [--updates 1000] [--statuses 200] [--requests 400] [--rate 50] [--duration 10]
        [--phases floor,burst,replies,status,open] [--timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import dataclasses
import gc
import json
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import func
from sqlmodel import col, select

from bench.common import (
    BOT_TOKEN,
    SECRET,
    WORKSPACE,
    Answers,
    for_each_backend,
    machine,
    percentile,
    postgres_version,
    start_app,
    start_floor,
    stop_process,
)
from bench.workspace import BenchWorkspace, populate
from bot.app import GENERIC_ERROR
from bot.config import load_settings
from bot.domain import Source
from bot.services.checkins import find_team
from bot.services.container import Services
from bot.slackclient import make_client
from bot.standin.sender import SignedSender
from bot.standin.server import Call, SlackStandin
from scheduler.jobs import PROMPT_EVENT, start_round
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    KeyResult,
    KpiMeasurement,
    KrUpdate,
    Objective,
    ReplyMessage,
    Team,
)

PHASES = ("floor", "burst", "replies", "status", "open")
T = TypeVar("T")
Gate = contextlib.AbstractAsyncContextManager[Any]
WRONG_LATER = "went wrong after answering"  # answered, so timed; counted as an error too


# -- one request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One request: seconds from sending to its answer (None: none within the timeout), to
    its HTTP response, what went wrong (None when nothing did), and when (monotonic) the
    answer came."""

    latency: float | None
    acked: float | None = None
    error: str | None = None
    tag: str = ""
    at: float | None = None


def went_wrong(message: dict[str, Any]) -> bool:
    """Whether an answer is the app's generic error (its text, or in its blocks)."""
    return GENERIC_ERROR in json.dumps(message, ensure_ascii=False)


@dataclass
class Bench:
    """One backend's run: the database, the workspace, Slack's side (set once the app runs),
    and the floor's figures once measured."""

    args: argparse.Namespace
    url: str
    database: Database
    workspace: BenchWorkspace
    table: Table
    standin: SlackStandin = field(init=False)
    sender: SignedSender = field(init=False)
    answers: Answers = field(init=False)
    floor_rate: float | None = None
    floor_p99: float | None = None


async def send_slash(
    bench: Bench, text: str, user: str, channel: str, gate: Gate, started: float | None = None
) -> Outcome:
    """`/okr text` from `user` in `channel`; `gate` is held while the HTTP request is out.
    `started` (the scheduled time, open loop) defaults to now."""
    url, tag, answered = bench.answers.expect()
    async with gate:
        started = started or time.monotonic()
        try:
            reply = await bench.sender.slash_command(
                "/okr", text, user_id=user, channel_id=channel, response_url=url
            )
        except (aiohttp.ClientError, TimeoutError):
            return Outcome(None, error="no HTTP answer", tag=tag)
        acked = time.monotonic() - started
    if reply.status != 200:
        return Outcome(None, acked, f"HTTP {reply.status}", tag)
    if isinstance(reply.json, dict) and reply.json.get("response_type"):  # answered in the ack
        error = "went wrong" if GENERIC_ERROR in reply.body else None
        return Outcome(acked, acked, error, tag, at=started + acked)
    # An empty ack, or a bare "queued" note: the answer follows through the response_url.
    return await _answer(bench, answered, started, acked, tag)


async def _answer(
    bench: Bench, answered: asyncio.Future[Call], started: float, acked: float, tag: str
) -> Outcome:
    try:
        call = await asyncio.wait_for(answered, bench.args.timeout)
    except TimeoutError:
        return Outcome(None, acked, "no answer", tag)
    error = "went wrong" if went_wrong(call.params) else None
    return Outcome(call.at - started, acked, error, tag, at=call.at)


def later_errors(bench: Bench, outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes again, with the generic error also counted when it came after a good
    answer (the app may fail after answering, e.g. refreshing App Home)."""
    return [
        dataclasses.replace(o, error=WRONG_LATER)
        if o.error is None and any(went_wrong(c.params) for c in bench.answers.posts[o.tag])
        else o
        for o in outcomes
    ]


# -- traffic shapes -------------------------------------------------------------------------


async def closed_loop(
    jobs: Sequence[Callable[[], Awaitable[T]]],
    clients: int,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[T]:
    """`clients` workers, each starting the next job when its last one is done."""
    queue = list(reversed(jobs))
    results: list[T] = []

    async def client() -> None:
        while queue and keep_going():
            results.append(await queue.pop()())

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def open_loop(jobs: Sequence[Callable[[float], Awaitable[T]]], rate: float) -> list[T]:
    """Job i starts at start + i / rate, given that time: arrivals do not wait for answers."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    tasks = []
    for index, job in enumerate(jobs):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(loop.create_task(job(due)))
    return list(await asyncio.gather(*tasks))


# -- the table ------------------------------------------------------------------------------


@dataclass
class Table:
    """The report: one row a measure, with the SPEC §6 bar it is held to and the verdict."""

    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, backend: str, phase: str, measure: str, value: str, bar: str = "") -> None:
        self.rows.append((backend, phase, measure, value, bar, ""))

    def judge(
        self, backend: str, phase: str, measure: str, value: str, bar: str, met: bool
    ) -> None:
        self.rows.append((backend, phase, measure, value, bar, "bar met" if met else "bar missed"))

    def print(self) -> None:
        header = ("backend", "phase", "measure", "value", "SPEC §6 bar", "")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in self.rows:
            print("| " + " | ".join(row) + " |", flush=True)


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


@dataclass(frozen=True)
class Summary:
    """Latencies and errors of a set of outcomes."""

    count: int
    latencies: list[float]
    errors: Counter[str]
    late_acks: int  # HTTP answers later than Slack's 3 s

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Summary:
        latencies = [
            o.latency for o in outcomes if o.latency is not None and o.error in (None, WRONG_LATER)
        ]
        errors = Counter(o.error for o in outcomes if o.error)
        late = sum(1 for o in outcomes if o.acked is not None and o.acked > 3)
        return cls(len(outcomes), latencies, errors, late)

    def p(self, q: int) -> float:
        return percentile(self.latencies, q)

    def percentiles(self) -> str:
        if not self.latencies:
            return "none answered"
        return f"{duration(self.p(50))} / {duration(self.p(99))} (of {len(self.latencies)})"

    def error_text(self) -> str:
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(self.errors.items()))
        late = f"; {self.late_acks} acked after 3 s" if self.late_acks else ""
        return f"{sum(self.errors.values())}" + (f" ({detail})" if detail else "") + late


def judge_latency(bench: Bench, phase: str, what: str, summary: Summary, bar_ms: int) -> None:
    """p50/p99 held to `p99 < bar_ms`; missed when nothing was answered."""
    met = bool(summary.latencies) and summary.p(99) * 1000 < bar_ms
    bench.table.judge(
        bench_name(bench), phase, what, summary.percentiles(), f"p99 < {bar_ms} ms", met
    )


def judge_errors(bench: Bench, phase: str, summary: Summary) -> None:
    errors = sum(summary.errors.values())
    bench.table.judge(
        bench_name(bench),
        phase,
        f"errors of {summary.count} (HTTP, went wrong, no answer in {bench.args.timeout:g} s)",
        summary.error_text(),
        "none",
        errors == 0,
    )


def bench_name(bench: Bench) -> str:
    return "sqlite" if bench.url.startswith("sqlite") else "postgresql"


# -- reading the database --------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """An update to send: `/okr update KR-number value` by the KR's owner in their channel."""

    number: int
    owner: str
    channel: str
    value: float

    @property
    def text(self) -> str:
        return f"update KR-{self.number} {self.value:g}"


def new_value(current: float) -> float:
    """A value other than `current`, inside 0-100, that no reading can take for another."""
    return current + 1.5 if current + 1.5 <= 100 else current - 1.5


async def plan_updates(database: Database, count: int, seed: int) -> list[Planned]:
    """`count` KRs, each once, in a shuffled order, with a new value for each."""
    query = (
        select(KeyResult.number, KeyResult.owner_id, KeyResult.current, Team.channel_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .join(Team, col(Team.id) == Objective.team_id)
        .order_by(col(KeyResult.number))
    )
    async with database.session() as session:
        rows = (await session.exec(query)).all()
    plans = [
        Planned(n, owner or "", channel or "", new_value(cur)) for n, owner, cur, channel in rows
    ]
    random.Random(seed).shuffle(plans)
    return plans[:count]


async def lost_updates(database: Database, plans: list[Planned]) -> int:
    """Planned updates not in the database: the KR's `current` is not the value sent, or no
    `/okr update` history row holds it."""
    numbers = [plan.number for plan in plans]
    async with database.session() as session:
        krs = (
            await session.exec(
                select(KeyResult.number, KeyResult.id, KeyResult.current).where(
                    col(KeyResult.number).in_(numbers), KeyResult.workspace_id == WORKSPACE
                )
            )
        ).all()
        ids = {kr_id: number for number, kr_id, _ in krs}
        history = (
            await session.exec(
                select(KrUpdate.kr_id, KrUpdate.new_value).where(
                    col(KrUpdate.kr_id).in_(list(ids)), KrUpdate.source == Source.COMMAND
                )
            )
        ).all()
    current = {number: value for number, _, value in krs}
    stored = {(ids[kr_id], value) for kr_id, value in history}
    return sum(
        1
        for plan in plans
        if abs(current.get(plan.number, float("nan")) - plan.value) > 1e-6
        or (plan.number, plan.value) not in stored
    )


async def _activity(database: Database) -> tuple[int, ...]:
    """Highest ids of the tables the phases write: they move while the app still works."""
    async with database.session() as session:
        return tuple(
            [
                (await session.exec(select(func.max(table.id)))).one() or 0
                for table in (KrUpdate, KpiMeasurement, ReplyMessage)
            ]
        )


async def settle(bench: Bench, limit: float = 120.0) -> float:
    """Waits until neither the database nor the stand-in has moved for `--quiet` seconds (at
    most `limit`): what the app still does for earlier requests must neither count as lost
    nor slow the next phase. Returns the seconds waited."""
    quiet = bench.args.quiet
    began = time.monotonic()
    last = (len(bench.standin.calls), await _activity(bench.database))
    still_since = began
    while time.monotonic() - still_since < quiet and time.monotonic() - began < limit:
        await asyncio.sleep(0.5)
        now = (len(bench.standin.calls), await _activity(bench.database))
        if now != last:
            last, still_since = now, time.monotonic()
    return time.monotonic() - began


# -- phase 1: the floor ---------------------------------------------------------------------


async def floor_phase(bench: Bench) -> None:
    """The bare Bolt app: requests answered per second and p50/p99, 20 closed-loop clients."""
    process, base = await start_floor(bench.standin.api_url)
    try:
        async with SignedSender(base + "/slack/events", SECRET, team_id=WORKSPACE) as sender:
            floor = copy.copy(bench)  # the same run, its requests sent to the floor
            floor.sender = sender
            await _floor_requests(floor, 40)  # warm-up: Bolt's auth.test, connections
            began = time.monotonic()
            summary = Summary.of(await _floor_requests(floor, bench.args.floor_requests))
            elapsed = time.monotonic() - began
    finally:
        await stop_process(process)
    bench.floor_rate = len(summary.latencies) / elapsed
    bench.floor_p99 = summary.p(99)
    name = bench_name(bench)
    bench.table.add(
        name, "floor", "requests answered per second, 20 in flight", f"{bench.floor_rate:.0f}"
    )
    bench.table.add(name, "floor", "p50 / p99, 20 closed-loop clients", summary.percentiles())
    if summary.errors:
        bench.table.add(name, "floor", "errors", summary.error_text())


async def _floor_requests(bench: Bench, total: int) -> list[Outcome]:
    callers = bench.workspace.callers()
    jobs = [
        _bind(send_slash, bench, "status", *callers[i % len(callers)], contextlib.nullcontext())
        for i in range(total)
    ]
    return await closed_loop(jobs, 20)


def _bind(function: Callable[..., Awaitable[T]], *args: Any) -> Callable[[], Awaitable[T]]:
    return lambda: function(*args)


# -- phase 2: the write burst ---------------------------------------------------------------


async def burst_phase(bench: Bench) -> None:
    """Updates, 20 HTTP requests in flight, while 5 closed-loop clients ask `/okr status`."""
    plans = await plan_updates(bench.database, bench.args.updates, seed=8)
    gate = asyncio.Semaphore(20)
    began = time.monotonic()
    update_task = asyncio.gather(
        *(send_slash(bench, p.text, p.owner, p.channel, gate) for p in plans)
    )
    callers = bench.workspace.callers()
    status_jobs = [
        _bind(send_slash, bench, "status", *callers[i % len(callers)], contextlib.nullcontext())
        for i in range(bench.args.statuses)
    ]
    statuses = await closed_loop(status_jobs, 5, keep_going=lambda: not update_task.done())
    updates = list(await update_task)
    last = max((o.at for o in updates if o.at is not None), default=began)
    waited = await settle(bench)
    lost = await lost_updates(bench.database, plans)
    report_burst(bench, Summary.of(later_errors(bench, updates)), last - began, lost, waited)
    judge_latency(bench, "burst", "status p50 / p99 during the burst", Summary.of(statuses), 300)


def report_burst(bench: Bench, summary: Summary, elapsed: float, lost: int, waited: float) -> None:
    name, table = bench_name(bench), bench.table
    rate = len(summary.latencies) / elapsed if elapsed > 0 else 0.0
    ratio = rate / bench.floor_rate if bench.floor_rate else None
    value = f"{rate:.1f}" + (f" ({ratio:.3f}× floor)" if ratio is not None else "")
    measure = "updates answered per second"
    if ratio is None:
        table.add(name, "burst", measure, value + " (no floor measured)", "≥ 0.10× floor")
    else:
        table.judge(name, "burst", measure, value, "≥ 0.10× floor", ratio >= 0.10)
    judge_latency(bench, "burst", "update answer p50 / p99", summary, 1000)
    judge_errors(bench, "burst", summary)
    table.judge(
        name,
        "burst",
        f"lost updates (read back after {waited:.0f} s settling)",
        f"{lost} of {summary.count}",
        "none",
        lost == 0,
    )


# -- phase 3: the check-in reply burst ------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """A member's check-in DM: where it is and the numbered items it lists."""

    user: str
    channel: str
    krs: dict[int, str]  # item number -> "KR-7"
    kpis: tuple[int, ...]  # item numbers of KPIs


_KR_ITEM = re.compile(r"\*(\d+)\.\* `(KR-\d+)`")
_KPI_ITEM = re.compile(r"\*(\d+)\.\* KPI ")


def read_prompt(call: Call) -> Prompt:
    """The items a prompt lists, read from its blocks as the member reads them."""
    text = "\n".join(
        str((block.get("text") or {}).get("text", "")) for block in call.params.get("blocks", [])
    )
    krs = {int(n): ref for n, ref in _KR_ITEM.findall(text)}
    kpis = tuple(int(n) for n in _KPI_ITEM.findall(text))
    return Prompt(str(call.params["channel"]), str(call.response["channel"]), krs, kpis)


def is_prompt(call: Call) -> bool:
    metadata = call.params.get("metadata") or {}
    return bool(call.response.get("ok")) and metadata.get("event_type") == PROMPT_EVENT


async def open_rounds(bench: Bench) -> list[Prompt]:
    """A round for every team (what `okrbot checkin start --team` does, run here), and the
    prompts once they all reached the stand-in."""
    settings = load_settings(
        slack_bot_token=BOT_TOKEN, slack_api_url=bench.standin.api_url, database_url=bench.url
    )
    services = Services(settings=settings, database=bench.database)
    client = make_client(settings)
    already = len([c for c in bench.standin.calls_to("chat.postMessage") if is_prompt(c)])
    for team in bench.workspace.teams:
        found = await find_team(database=bench.database, name=team.name, workspace_id=WORKSPACE)
        await start_round(services, client, found.id or 0)
    members = sum(len(team.members) for team in bench.workspace.teams)
    calls = await bench.standin.wait_for(
        "chat.postMessage", count=already + members, where=is_prompt, timeout=120
    )
    return [read_prompt(call) for call in calls[already:]]


def reply_text(prompt: Prompt, currents: dict[str, float]) -> str:
    """One `n: value` line per item: a new value for each KR, a measurement for each KPI."""
    lines = [f"{n}: {new_value(currents[ref]):g}" for n, ref in sorted(prompt.krs.items())]
    lines += [f"{n}: {140 + n}.5" for n in prompt.kpis]
    return "\n".join(lines)


async def kr_currents(database: Database) -> dict[str, float]:
    async with database.session() as session:
        rows = (await session.exec(select(KeyResult.number, KeyResult.current))).all()
    return {f"KR-{number}": current for number, current in rows}


class Confirmations:
    """Futures for the app's answers to replies: the confirmation in the reply's thread
    (chat.postMessage with its thread_ts), or the generic error shown to the member."""

    def __init__(self, standin: SlackStandin) -> None:
        self.waiting: dict[str, asyncio.Future[Call]] = {}
        self.members: dict[str, str] = {}  # member -> ts of the reply they wait on
        standin.subscribe(self._seen)

    def _seen(self, call: Call) -> None:
        if call.method == "chat.postMessage":
            self._resolve(str(call.params.get("thread_ts")), call)
        elif call.method == "chat.postEphemeral" and went_wrong(call.params):
            self._resolve(self.members.get(str(call.params.get("user")), ""), call)

    def _resolve(self, ts: str, call: Call) -> None:
        future = self.waiting.pop(ts, None)
        if future is not None and not future.done():
            future.set_result(call)

    def expect(self, member: str, ts: str) -> asyncio.Future[Call]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[ts] = future
        self.members[member] = ts
        return future


async def send_reply(
    bench: Bench, confirmations: Confirmations, prompt: Prompt, text: str, gate: Gate
) -> tuple[str, Outcome]:
    """A member's reply in their DM; its ts and the time until its confirmation."""
    ts = bench.sender.clock.next()
    confirmed = confirmations.expect(prompt.user, ts)
    async with gate:
        started = time.monotonic()
        try:
            reply = await bench.sender.message_im(prompt.user, text, channel=prompt.channel, ts=ts)
        except (aiohttp.ClientError, TimeoutError):
            return ts, Outcome(None, error="no HTTP answer")
        acked = time.monotonic() - started
    if reply.status != 200:
        return ts, Outcome(None, acked, f"HTTP {reply.status}")
    return ts, await _answer(bench, confirmed, started, acked, "")


async def recorded_replies(bench: Bench, sent: dict[str, Prompt]) -> int:
    """Replies (by ts) stored with an update for each KR and a measurement for each KPI."""
    async with bench.database.session() as session:
        replies = (
            await session.exec(
                select(ReplyMessage.id, ReplyMessage.ts).where(col(ReplyMessage.ts).in_(list(sent)))
            )
        ).all()
        ids = [reply_id for reply_id, _ in replies]
        krs = Counter(
            (
                await session.exec(select(KrUpdate.reply_id).where(col(KrUpdate.reply_id).in_(ids)))
            ).all()
        )
        kpis = Counter(
            (
                await session.exec(
                    select(KpiMeasurement.reply_id).where(col(KpiMeasurement.reply_id).in_(ids))
                )
            ).all()
        )
    return sum(
        1
        for reply_id, ts in replies
        if krs[reply_id] == len(sent[ts].krs) and kpis[reply_id] == len(sent[ts].kpis)
    )


async def replies_phase(bench: Bench) -> None:
    """A round to every member; all reply at once, 20 HTTP requests in flight."""
    prompts = await open_rounds(bench)
    await settle(bench)
    currents = await kr_currents(bench.database)
    confirmations = Confirmations(bench.standin)
    gate = asyncio.Semaphore(20)
    sent = await asyncio.gather(
        *(send_reply(bench, confirmations, p, reply_text(p, currents), gate) for p in prompts)
    )
    waited = await settle(bench)
    recorded = await recorded_replies(
        bench, {ts: p for (ts, _), p in zip(sent, prompts, strict=True)}
    )
    summary = Summary.of([outcome for _, outcome in sent])
    name = bench_name(bench)
    judge_latency(bench, "replies", "confirmation p50 / p99", summary, 1000)
    judge_errors(bench, "replies", summary)
    bench.table.judge(
        name,
        "replies",
        f"replies recorded in full (read back after {waited:.0f} s settling)",
        f"{recorded} of {len(prompts)}",
        "all",
        recorded == len(prompts),
    )


# -- phase 4: closed-loop status ------------------------------------------------------------


async def status_phase(bench: Bench) -> None:
    """`/okr status` in team channels, 20 clients each waiting for its answer."""
    callers = bench.workspace.callers()
    jobs = [
        _bind(send_slash, bench, "status", *callers[i % len(callers)], contextlib.nullcontext())
        for i in range(bench.args.requests + 2 * len(callers))
    ]
    outcomes = await closed_loop(jobs, 20)
    summary = Summary.of(outcomes[2 * len(callers) :])  # the first ones warm the app up
    judge_latency(bench, "status", "p50 / p99, 20 closed-loop clients", summary, 100)
    if bench.floor_p99 and summary.latencies:
        ratio = summary.p(99) / bench.floor_p99
        bench.table.judge(
            bench_name(bench),
            "status",
            "p99 vs the floor's p99",
            f"{ratio:.1f}×",
            "≤ 2×",
            ratio <= 2,
        )
    if summary.errors:
        judge_errors(bench, "status", summary)


# -- phase 5: open loop ---------------------------------------------------------------------


async def open_phase(bench: Bench) -> None:
    """`/okr update` at `--rate` per second for `--duration` s, each KR once."""
    count = int(bench.args.rate * bench.args.duration)
    plans = await plan_updates(bench.database, count, seed=5)
    jobs = [
        lambda due, p=plan: send_slash(
            bench, p.text, p.owner, p.channel, contextlib.nullcontext(), started=due
        )
        for plan in plans
    ]
    outcomes = await open_loop(jobs, bench.args.rate)
    waited = await settle(bench)
    lost = await lost_updates(bench.database, plans)
    summary = Summary.of(later_errors(bench, outcomes))
    name = bench_name(bench)
    shape = f"{len(plans)} at {bench.args.rate:g}/s"
    bench.table.add(name, "open", f"update answer p50 / p99, {shape}", summary.percentiles())
    bench.table.add(name, "open", "errors", summary.error_text())
    bench.table.add(name, "open", f"lost updates (after {waited:.0f} s settling)", f"{lost}")


# -- running it -----------------------------------------------------------------------------

PHASE_RUNS: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "floor": floor_phase,
    "burst": burst_phase,
    "replies": replies_phase,
    "status": status_phase,
    "open": open_phase,
}


_EXCEPTION_LINE = re.compile(r"^([\w.]+(?:Error|Exception)): (.*)$", flags=re.MULTILINE)
# Words Python prints between a chained exception and the one that ended the traceback.
_CHAINED = ("The above exception was", "During handling of the above exception")


def app_errors(log: Path) -> str:
    """The exceptions that ended the app's logged tracebacks, most common first (the causes
    chained before them are left out: each failure counts once)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = list(_EXCEPTION_LINE.finditer(text))
    ends = [match.start() for match in found[1:]] + [len(text)] if found else []
    final = Counter(
        f"{match[1]}: {match[2][:90]}".replace("|", "/")
        for match, end in zip(found, ends, strict=True)
        if not any(words in text[match.end() : end] for words in _CHAINED)
    )
    return "; ".join(f"{n} × {line}" for line, n in final.most_common(3))


async def run_backend(args: argparse.Namespace, table: Table, name: str, url: str) -> None:
    """Every chosen phase on one backend: a fresh workspace, the app, the stand-in."""
    database = Database.connect(url)
    try:
        await upgrade(database)
        began = time.perf_counter()
        workspace = await populate(database, args.teams)
        built = time.perf_counter() - began
        print(f"{name}: workspace built in {built:.1f} s ({workspace.describe()})")
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "app.log"
            bench = Bench(args, url, database, workspace, table)
            await run_phases(bench, log)
            errors = app_errors(log)
    finally:
        await database.dispose()
    if errors:
        table.add(name, "all", "exceptions the app logged", errors)


async def run_phases(bench: Bench, log: Path) -> None:
    """The app as its own process against the stand-in, and the phases in turn."""
    async with SlackStandin(team_id=WORKSPACE) as standin:
        for user in bench.workspace.people:
            standin.add_user(user, name=user.lower())
        process, base = await start_app(bench.url, standin.api_url, log)
        gc.freeze()  # the stand-in plays Slack: keep its collector pauses out of the figures
        endpoint = base + "/slack/events"
        try:
            async with SignedSender(
                endpoint, SECRET, team_id=WORKSPACE, timeout=bench.args.timeout
            ) as sender:
                bench.standin, bench.sender, bench.answers = standin, sender, Answers(standin)
                for phase in bench.args.phases:
                    began = time.perf_counter()
                    await PHASE_RUNS[phase](bench)
                    print(
                        f"{bench_name(bench)}: {phase} done in {time.perf_counter() - began:.1f} s"
                    )
        finally:
            await stop_process(process)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--teams", type=int, default=20, help="teams of 5 members and a manager")
    parser.add_argument("--updates", type=int, default=1000, help="/okr update in the burst")
    parser.add_argument("--statuses", type=int, default=200, help="/okr status in the burst")
    parser.add_argument("--requests", type=int, default=400, help="closed-loop /okr status")
    parser.add_argument("--floor-requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop updates per second")
    parser.add_argument("--duration", type=float, default=10.0, help="open-loop seconds")
    parser.add_argument(
        "--quiet", type=float, default=2.0, help="seconds without writes that mean the app is done"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help="comma-separated, of: " + ", ".join(PHASES)
    )
    args = parser.parse_args()
    args.phases = [phase.strip() for phase in args.phases.split(",") if phase.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


async def main() -> None:
    args = parse_args()
    print(f"machine: {machine()}; {postgres_version()}")
    table = Table()
    try:
        await for_each_backend(
            args.backend, lambda name, url: run_backend(args, table, name, url), "load"
        )
    finally:
        table.print()


if __name__ == "__main__":
    asyncio.run(main())
