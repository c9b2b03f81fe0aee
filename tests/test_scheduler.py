"""The scheduler keeps one cron job per team schedule, in step with the database."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlmodel import select

from bot.config import load_settings
from bot.services.checkins import LEASE
from bot.services.container import Services
from bot.services.imports import import_file
from scheduler.runner import TAKE_OVER_SECONDS, ScheduleRunner
from storage.db import Database
from storage.models import Team

SEED = Path(__file__).resolve().parents[1] / "examples" / "okrs.yaml"
ran: list[int] = []


async def job(services: Services, client: object, team_id: int) -> None:
    ran.append(team_id)


async def resolve(email: str) -> str | None:
    return "U0BOB"


async def load(database: Database, text: str) -> None:
    await import_file(
        database=database, workspace_id="T1", text=text, filename="f", resolve_email=resolve
    )


async def test_jobs_follow_team_schedules(database: Database, db_url: str) -> None:
    await load(database, SEED.read_text())
    services = Services(settings=load_settings(database_url=db_url), database=database)
    runner = ScheduleRunner(services, client=None, jobs={"checkin": job, "digest": job})
    await runner.start()
    try:
        jobs = {j.id: j for j in runner.scheduler.get_jobs()}
        assert sum(i.startswith("checkin:") for i in jobs) == 4
        assert sum(i.startswith("digest:") for i in jobs) == 3
        async with database.read() as session:
            found = await session.exec(select(Team.id).where(Team.name == "Customer Success"))
            team_id = found.one()
        monday = jobs[f"checkin:{team_id}"]  # "0 10 * * mon", timezone Asia/Jakarta
        assert "day_of_week='mon'" in str(monday.trigger) and "Asia/Jakarta" in str(
            monday.trigger.timezone
        )
        await load(
            database, SEED.read_text().replace('    digest: {schedule: "0 16 * * fri"}\n', "", 1)
        )
        await runner.sync()
        assert sum(j.id.startswith("digest:") for j in runner.scheduler.get_jobs()) == 2
    finally:
        runner.stop()


async def test_kinds_without_a_job_are_not_scheduled(database: Database, db_url: str) -> None:
    await load(database, SEED.read_text())
    services = Services(settings=load_settings(database_url=db_url), database=database)
    runner = ScheduleRunner(services, client=None, jobs={"digest": job})
    await runner.start()
    try:
        ids = {j.id for j in runner.scheduler.get_jobs()}
        assert ids and all(i == "sync" or i.startswith("digest:") for i in ids)
    finally:
        runner.stop()


async def look(services: Services, client: object) -> None:
    ran.append(0)


async def test_the_take_over_look_runs_every_few_seconds_and_outlives_sync(
    database: Database, db_url: str
) -> None:
    await load(database, SEED.read_text())
    services = Services(settings=load_settings(database_url=db_url), database=database)
    runner = ScheduleRunner(services, client=None, jobs={"checkin": job, "take_over": look})
    await runner.start()
    try:
        take_over = runner.scheduler.get_job("take_over")
        # A killed sender's round is resumed within its lease plus one look (SPEC: 30 s).
        assert take_over is not None and take_over.args == (services, None)
        assert take_over.trigger.interval == dt.timedelta(seconds=TAKE_OVER_SECONDS)
        assert LEASE + take_over.trigger.interval <= dt.timedelta(seconds=30)
        await runner.sync()
        assert runner.scheduler.get_job("take_over") is not None
    finally:
        runner.stop()


async def test_retrospectives_are_looked_for_every_minute_and_once_at_start(
    database: Database, db_url: str
) -> None:
    """What a close owed and could not send (no token at hand, a passing Slack error, a
    process stopped halfway) goes out from `okrbot run`: at start, then within a minute."""
    services = Services(settings=load_settings(database_url=db_url), database=database)
    runner = ScheduleRunner(services, client=None, jobs={"retro": look})
    ran.clear()
    await runner.start()
    try:
        every = runner.scheduler.get_job("retro")
        assert every is not None and every.args == (services, None)
        assert every.trigger.interval == dt.timedelta(minutes=1)
        for _ in range(100):  # the start-up run is queued on the loop: give it a moment
            if ran:
                break
            await asyncio.sleep(0.01)
        assert ran == [0]
        await runner.sync()
        assert runner.scheduler.get_job("retro") is not None
    finally:
        runner.stop()
