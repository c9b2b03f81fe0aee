"""Pull sources (SPEC §9): a KPI reads a CSV over HTTP or a read-only SQL query on its own
cron, its value stored like a pushed one; a failing source is told to its owner once, and its
recovery once; a bad source never stops the scheduler; the import refuses a malformed one."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlmodel import col, select

from bot.importfile import CsvSourceSpec, SqlSourceSpec
from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed, seed_okrs
from bot.server import bound_port
from bot.services.sources import Reading, SourceFailed, read_csv, retry_delay, run_query
from scheduler.runner import ScheduleRunner
from scheduler.source_jobs import pull_source
from storage.models import KeyResult, Kpi, KpiMeasurement, SourceState
from tests.support.postgres import PostgresServer
from tests.test_cli import okrbot

WS = "T0DEMO"
NPS_LINE = "    aliases: [nps]\n"
CLV_LINE = "    aliases: [clv, ltv]\n"


@dataclass
class Clock:
    """The app's clock: real time (so the scheduler's own timers agree), moved on by hand."""

    offset: dt.timedelta = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class Sheet:
    """A published spreadsheet: what `GET /sheet.csv` answers, and how often it was asked."""

    body: str = ""
    status: int = 200
    hits: int = 0
    url: str = ""


@dataclass
class Served:
    sheets: dict[str, Sheet] = field(default_factory=dict)


@pytest.fixture
async def sheets() -> AsyncIterator[Served]:
    served = Served()

    async def answer(request: web.Request) -> web.Response:
        sheet = served.sheets[request.match_info["name"]]
        sheet.hits += 1
        return web.Response(status=sheet.status, text=sheet.body, content_type="text/csv")

    app = web.Application()
    app.router.add_get("/{name}.csv", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{bound_port(runner)}"
    for name in ("nps", "clv"):
        served.sheets[name] = Sheet(url=f"{base}/{name}.csv")
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def box(db_url: str, clock: Clock) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=clock, migrate=False) as box:
        yield box


def with_sources(**lines: str) -> str:
    """The seed, with `source:` lines added to KPIs (keyed by the KPI's alias line)."""
    text = seed_okrs()
    for anchor, source in lines.items():
        assert anchor in text
        text = text.replace(anchor, anchor + f"    source: {source}\n", 1)
    return text


async def kpi_named(box: Sandbox, name: str) -> Kpi:
    async with box.database.read() as session:
        return (await session.exec(select(Kpi).where(Kpi.name == name))).one()


async def pulled(box: Sandbox, kpi: Kpi) -> list[tuple[str, float, str]]:
    async with box.database.read() as session:
        query = (
            select(KpiMeasurement)
            .where(KpiMeasurement.kpi_id == kpi.id, col(KpiMeasurement.source).startswith("pull:"))
            .order_by(col(KpiMeasurement.id))
        )
        return [(row.period, row.value, row.source) for row in (await session.exec(query)).all()]


async def state_of(box: Sandbox, kpi: Kpi) -> SourceState:
    async with box.database.read() as session:
        state = await session.get(SourceState, kpi.id)
    assert state is not None
    return state


async def kr_current(box: Sandbox, title: str) -> float:
    async with box.database.read() as session:
        return (await session.exec(select(KeyResult).where(KeyResult.title == title))).one().current


def posts_to(box: Sandbox, channel: str) -> list[str]:
    return [
        str(call.params.get("text", ""))
        for call in box.standin.calls_to("chat.postMessage")
        if call.params.get("channel") == channel
    ]


async def run_now(runner: ScheduleRunner, job_id: str) -> None:
    """Fire a scheduled job now, through the scheduler, and wait until it has run."""
    done = asyncio.Event()

    def listen(event: JobExecutionEvent) -> None:
        if event.job_id == job_id:
            done.set()

    runner.scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        job = runner.scheduler.get_job(job_id)
        assert job is not None, job_id
        job.modify(next_run_time=dt.datetime.now(dt.UTC))
        runner.scheduler.wakeup()
        await asyncio.wait_for(done.wait(), 15)
    finally:
        runner.scheduler.remove_listener(listen)


@pytest.fixture
async def runner(box: Sandbox) -> AsyncIterator[Callable[[], ScheduleRunner]]:
    started: list[ScheduleRunner] = []

    def make() -> ScheduleRunner:
        made = ScheduleRunner(box.services, box.client, jobs={"pull": pull_source})
        started.append(made)
        return made

    yield make
    for made in started:
        made.stop()


# --- a CSV over HTTP, on its schedule ------------------------------------------------------


async def test_a_csv_source_is_pulled_on_its_schedule_like_a_pushed_value(
    box: Sandbox, sheets: Served, clock: Clock, runner: Callable[[], ScheduleRunner]
) -> None:
    sheet = sheets.sheets["nps"]
    sheet.body = "Month,Score,Responses\n2026-09,71,300\n2026-11,78,280\n2026-10,72,310\n,,\n"
    source = (
        f'{{csv: "{sheet.url}", period_column: month, value_column: score, schedule: "0 * * * *"}}'
    )
    await load_seed(box, with_sources(**{NPS_LINE: source}))
    nps = await kpi_named(box, "Net promoter score")
    scheduler = runner()
    await scheduler.start()
    job = scheduler.scheduler.get_job(f"pull:{nps.id}")
    assert job is not None and "minute='0'" in str(job.trigger)
    assert str(job.trigger.timezone) == "Asia/Jakarta"  # the team's timezone

    await run_now(scheduler, f"pull:{nps.id}")
    # The row of the latest period counts, wherever it stands in the sheet.
    assert await pulled(box, nps) == [("2026-11", 78.0, "pull:csv")]
    assert await kr_current(box, "Increase NPS from 70 to 80") == 78.0  # the linked KR moved
    (alert,) = [text for text in posts_to(box, "C0CS") if "Net promoter score" in text]
    assert "back on target" in alert  # 74 (warn) -> 78 (ok): one alert
    assert sheet.hits == 1

    await run_now(scheduler, f"pull:{nps.id}")  # the same slot again (as a second replica)
    assert sheet.hits == 1 and len(await pulled(box, nps)) == 1

    clock.offset += dt.timedelta(hours=1)  # the next slot: the sheet has not changed
    await run_now(scheduler, f"pull:{nps.id}")
    assert sheet.hits == 2 and len(await pulled(box, nps)) == 1  # nothing new to store
    assert len([text for text in posts_to(box, "C0CS") if "Net promoter score" in text]) == 1

    sheet.body = "Month,Score\n2026-11,79\n2026-12,\n"  # December not filled in yet
    clock.offset += dt.timedelta(hours=1)
    await run_now(scheduler, f"pull:{nps.id}")
    assert await pulled(box, nps) == [("2026-11", 78.0, "pull:csv"), ("2026-11", 79.0, "pull:csv")]
    assert (await state_of(box, nps)).failures == 0


def test_reading_a_csv_chooses_columns_by_name_and_the_latest_period() -> None:
    spec = CsvSourceSpec(
        csv="https://example.com/x.csv",
        period_column="Week",
        value_column="Tickets",
        schedule="0 6 * * *",
        locale="id",
    )
    text = '\ufeffWeek,Tickets\n2026-11-16,1.180\n2026-11-09,"1.240,5"\n'
    assert read_csv(text, spec, "weekly") == Reading("2026-W47", 1180.0)
    assert read_csv(text, spec, "monthly") == Reading("2026-11", 1180.0)  # dates fall in periods
    with pytest.raises(SourceFailed, match="no column Tickets"):
        read_csv("Week,Count\n2026-W47,3\n", spec, "weekly")
    with pytest.raises(SourceFailed, match="row 3: total is not a period"):
        read_csv("Week,Tickets\n2026-W47,3\ntotal,3\n", spec, "weekly")
    with pytest.raises(SourceFailed, match="row 2: lots is not a number"):
        read_csv("Week,Tickets\n2026-W47,lots\n", spec, "weekly")
    with pytest.raises(SourceFailed, match="row 2: 1e\\+20 is out of range for a KPI"):
        read_csv("Week,Tickets\n2026-W47,100.000.000.000.000.000.000\n", spec, "weekly")
    with pytest.raises(SourceFailed, match="no row has both"):
        read_csv("Week,Tickets\n", spec, "weekly")


# --- an SQL query on a local PostgreSQL, on its schedule -----------------------------------


@pytest.fixture
def analytics(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database of the local PostgreSQL server holding a `clv` table, named by
    OKRBOT_SOURCE_ANALYTICS_URL; its name is returned."""
    name = f"analytics_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {name}")
    for statement in (
        "CREATE TABLE clv (month date, amount numeric)",
        "INSERT INTO clv VALUES ('2026-10-01', 910), ('2026-11-01', 1020)",
    ):
        psql(postgres_server, name, statement)
    monkeypatch.setenv("OKRBOT_SOURCE_ANALYTICS_URL", postgres_server.url(name))
    return name


def psql(server: PostgresServer, dbname: str, statement: str) -> str:
    done = subprocess.run(
        [
            str(server.bindir / "psql"),
            *("-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-d", dbname),
            *("-At", "-v", "ON_ERROR_STOP=1", "-c", statement),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


async def test_an_sql_source_is_pulled_read_only_on_its_schedule(
    box: Sandbox, analytics: str, runner: Callable[[], ScheduleRunner]
) -> None:
    source = '{sql: analytics, query: "select month, amount from clv", schedule: "30 6 * * *"}'
    await load_seed(box, with_sources(**{CLV_LINE: source}))
    clv = await kpi_named(box, "Customer lifetime value")
    scheduler = runner()
    await scheduler.start()
    job = scheduler.scheduler.get_job(f"pull:{clv.id}")
    assert job is not None and "hour='6'" in str(job.trigger) and "minute='30'" in str(job.trigger)
    # The job may run long after 06:30 (a restart catching up); it pulls for the latest slot.
    box.services.clock = lambda: dt.datetime.now(dt.UTC).replace(hour=8, minute=0)
    await run_now(scheduler, f"pull:{clv.id}")
    assert await pulled(box, clv) == [("2026-11", 1020.0, "pull:sql")]
    assert await kr_current(box, "Grow customer lifetime value from $800 to $1,200") == 1020.0
    assert any("Customer lifetime value" in text for text in posts_to(box, "C0SALES"))


async def test_an_sql_source_cannot_write_and_is_stopped_at_its_timeout(
    box: Sandbox, analytics: str, postgres_server: PostgresServer, clock: Clock
) -> None:
    writes = (
        '{sql: analytics, query: "with gone as (delete from clv returning month, amount)'
        ' select month, amount from gone", schedule: "0 * * * *"}'
    )
    await load_seed(box, with_sources(**{CLV_LINE: writes}))
    clv = await kpi_named(box, "Customer lifetime value")
    assert await pull_source(box.services, box.client, clv.id or 0) is not None  # failed
    assert "read-only transaction" in ((await state_of(box, clv)).error or "")
    assert psql(postgres_server, analytics, "select count(*) from clv") == "2"  # nothing deleted
    assert await pulled(box, clv) == []

    slow = (
        '{sql: analytics, query: "select month, pg_sleep(5)::text from clv",'
        ' schedule: "0 * * * *", timeout: 1}'
    )
    await load_seed(box, with_sources(**{CLV_LINE: slow}))
    clock.offset += dt.timedelta(hours=1)
    started = asyncio.get_running_loop().time()
    assert await pull_source(box.services, box.client, clv.id or 0) is not None
    assert asyncio.get_running_loop().time() - started < 4
    assert "did not finish within 1 s" in ((await state_of(box, clv)).error or "")


# --- failing and recovering ----------------------------------------------------------------


async def test_a_failing_source_is_told_once_and_its_recovery_once(
    box: Sandbox, sheets: Served, clock: Clock
) -> None:
    sheet = sheets.sheets["clv"]
    sheet.status, sheet.body = 500, "oops"
    source = (
        f'{{csv: "{sheet.url}", period_column: month, value_column: clv, schedule: "0 * * * *"}}'
    )
    await load_seed(box, with_sources(**{CLV_LINE: source}))
    clv = await kpi_named(box, "Customer lifetime value")
    dewi = box.standin.dm_channel("U0DEWI")  # the KPI's owner, who reads Bahasa Indonesia

    async def pull() -> dt.datetime | None:
        return await pull_source(box.services, box.client, clv.id or 0)

    retries = []
    for _ in range(3):  # the slot, then two retries, all failing
        retry = await pull()
        assert retry is not None
        retries.append(retry - clock())
        clock.offset += retry - clock()
    assert [round(delay.total_seconds() / 60) for delay in retries] == [1, 2, 4]  # backoff
    (told,) = posts_to(box, dewi)
    assert "Sumber CSV untuk KPI Anda *Customer lifetime value* gagal" in told
    assert "menjawab HTTP 500" in told
    state = await state_of(box, clv)
    assert state.failures == 3 and state.told == "failing"
    assert await pulled(box, clv) == []

    sheet.status, sheet.body = 200, "month,clv\n2026-11,1 020\n"  # a value it cannot read
    assert await pull() is not None
    clock.offset += dt.timedelta(minutes=8)
    assert len(posts_to(box, dewi)) == 1
    assert "row 2: 1 020 is not a number" in ((await state_of(box, clv)).error or "")

    sheet.body = 'month,clv\n2026-11,"1,020"\n'
    assert await pull() is None
    recovered = posts_to(box, dewi)[1:]
    assert recovered == [
        "Sumber CSV untuk KPI Anda *Customer lifetime value* berfungsi lagi: 1.020 untuk 2026-11."
    ]
    assert await pulled(box, clv) == [("2026-11", 1020.0, "pull:csv")]
    clock.offset += dt.timedelta(hours=1)
    assert await pull() is None  # still working: nothing more to tell
    assert len(posts_to(box, dewi)) == 2
    state = await state_of(box, clv)
    assert (state.failures, state.retry_at, state.error, state.told) == (0, None, None, "ok")


async def test_a_bad_source_never_stops_the_scheduler(
    box: Sandbox, sheets: Served, runner: Callable[[], ScheduleRunner]
) -> None:
    bad, good = sheets.sheets["clv"], sheets.sheets["nps"]
    bad.body = "when,what\n2026-11,3\n"
    good.body = "month,nps\n2026-11,77\n"
    hourly = 'period_column: month, value_column: {column}, schedule: "0 * * * *"'
    await load_seed(
        box,
        with_sources(
            **{
                CLV_LINE: f'{{csv: "{bad.url}", {hourly.format(column="clv")}}}',
                NPS_LINE: f'{{csv: "{good.url}", {hourly.format(column="nps")}}}',
            }
        ),
    )
    clv, nps = (
        await kpi_named(box, "Customer lifetime value"),
        await kpi_named(box, "Net promoter score"),
    )
    scheduler = runner()
    await scheduler.start()
    await run_now(scheduler, f"pull:{clv.id}")
    retry = scheduler.scheduler.get_job(f"retry:{clv.id}")
    state = await state_of(box, clv)
    assert retry is not None and retry.next_run_time == state.retry_at  # backoff, scheduled
    assert "no column month" in (state.error or "")
    await run_now(scheduler, f"pull:{nps.id}")
    assert await pulled(box, nps) == [("2026-11", 77.0, "pull:csv")]
    assert scheduler.scheduler.running
    await scheduler.sync()  # a re-read of the schedules keeps the pending retry
    assert scheduler.scheduler.get_job(f"retry:{clv.id}") is not None


def test_the_backoff_doubles_up_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() / 60 for n in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


# --- the import file -------------------------------------------------------------------------

FILE = """\
cycle: {{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}}
teams:
  - name: Support
    members: [U0CAROL]
kpis:
{kpis}"""
KPI = """\
  - name: {name}
    team: Support
    owner: U0CAROL
    target: 1000
    source: {source}
"""


def import_file(tmp_path: Path, db_url: str, **sources: str) -> subprocess.CompletedProcess:
    kpis = "".join(KPI.format(name=name, source=source) for name, source in sources.items())
    path = tmp_path / "okrs.yaml"
    path.write_text(FILE.format(kpis=kpis))
    return okrbot("import", str(path), "--workspace", "T1", env={"DATABASE_URL": db_url})


def test_the_import_refuses_a_malformed_source_and_writes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    result = import_file(
        tmp_path,
        db_url,
        Tickets='{csv: "ftp://example.com/x.csv", period_column: month, schedule: "daily"}',
        Replies='{sql: analytics, query: "delete from replies", schedule: "0 * * * *"}',
        Visits='{url: "https://example.com/x.csv"}',
        Leads='{sql: "two words", query: "select 1, 2", schedule: "0 * * * *", timeout: 0}',
    )
    assert result.returncode == 2, result.stderr
    path = tmp_path / "okrs.yaml"
    for line in (
        "kpis[0].source.csv: 'ftp://example.com/x.csv' is not an http:// or https:// address",
        "kpis[0].source.value_column: field required",
        "kpis[0].source.schedule: 'daily' is not a cron schedule",
        "kpis[1].source.query: the query must be one SELECT (or WITH … SELECT)",
        "kpis[2].source: a source needs exactly one of csv: URL or sql: NAME",
        "kpis[3].source.sql: string should match pattern",
        "kpis[3].source.timeout: input should be greater than or equal to 1",
    ):
        assert f"{path}: {line}" in result.stderr, result.stderr
    exported = okrbot("export", "--workspace", "T1", env={"DATABASE_URL": db_url})
    assert yaml.safe_load(exported.stdout).get("kpis", []) == []


def test_sources_round_trip_through_export(db_url: str, tmp_path: Path) -> None:
    csv = (
        '{csv: "https://sheets.example.com/pub?output=csv", period_column: Month,'
        ' value_column: Tickets, schedule: "0 6 * * *", locale: id}'
    )
    sql = (
        '{sql: analytics, query: "select period, value from replies", schedule: "0 * * * *",'
        " timeout: 10}"
    )
    first = import_file(tmp_path, db_url, Tickets=csv, Replies=sql)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out.yaml"
    assert okrbot("export", "--out", str(out), env={"DATABASE_URL": db_url}).returncode == 0
    exported = {kpi["name"]: kpi["source"] for kpi in yaml.safe_load(out.read_text())["kpis"]}
    assert exported == {
        "Tickets": yaml.safe_load(csv),
        "Replies": yaml.safe_load(sql),
    }
    again = okrbot("import", str(out), env={"DATABASE_URL": db_url})
    assert "nothing to change" in again.stdout, again.stdout + again.stderr


async def test_read_only_is_enforced_by_the_database_not_by_the_query_check(
    tmp_path: Path, postgres_server: PostgresServer, analytics: str
) -> None:
    """Past the import's SELECT check (built here without it), a write is refused by the
    database itself: PostgreSQL's READ ONLY transaction, SQLite's query_only."""
    path = tmp_path / "metrics.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE clv (month text, amount real);INSERT INTO clv VALUES ('2026-11', 1020);"
        )
    environ = {
        "OKRBOT_SOURCE_LOCAL_URL": f"sqlite:///{path}",
        "OKRBOT_SOURCE_ANALYTICS_URL": postgres_server.url(analytics),
    }
    for name, refusal in (("local", "readonly database"), ("analytics", "read-only transaction")):
        reads = SqlSourceSpec(sql=name, query="select month, amount from clv", schedule="0 * * * *")
        assert await run_query(reads, environ, "monthly") == Reading("2026-11", 1020.0)
        writes = SqlSourceSpec.model_construct(
            sql=name, query="delete from clv", schedule="0 * * * *", timeout=5
        )
        with pytest.raises(SourceFailed, match=refusal):
            await run_query(writes, environ, "monthly")
    with sqlite3.connect(path) as connection:
        assert connection.execute("select count(*) from clv").fetchone() == (1,)
    assert psql(postgres_server, analytics, "select count(*) from clv") == "2"
    unset = SqlSourceSpec(sql="crm", query="select 1, 2", schedule="0 * * * *")
    with pytest.raises(SourceFailed, match="OKRBOT_SOURCE_CRM_URL is not set"):
        await run_query(unset, environ, "monthly")
