"""Wires each team's schedules to jobs, on an APScheduler running in the app's own event loop.

The runner re-reads the teams every few minutes, so an import that changes a schedule is
picked up without a restart. Jobs are plain async functions `job(services, client, team_id)`
that must be idempotent: with several replicas each runs its own scheduler, and the unique
claim rows in the database decide who actually sends.

A KPI with a pull source (SPEC §9) gets its own cron job `pull:<kpi id>` running
`jobs["pull"](services, client, kpi_id)`; when that returns a time (the source failed), the
runner adds a one-off `retry:<kpi id>` job then. A retry lost with its process is no loss: the
next replica's cron run pulls, and the claim on each slot keeps replicas from pulling twice.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import col, select

from bot.services.container import Services
from storage.models import Kpi, Team

log = logging.getLogger("okrbot.scheduler")

Job = Callable[..., Awaitable[None]]
SYNC_MINUTES = 5
# The check-in sweep (members' own timezones, reminders, closing, abandoned claims).
SWEEP_MINUTES = 1
# The look for rounds whose sender died (`take_over(services, client)`, one indexed query for
# all teams): a round must resume within 30 s of a restart, and the lease alone takes 20.
TAKE_OVER_SECONDS = 2
# Scoring DMs (`scoring(services, client)`, SPEC §8): owed from the day a cycle enters scoring.
SCORING_MINUTES = 1
GLOBAL_JOBS = ("sync", "take_over", "scoring", "retro")
# Jobs the sync leaves alone: a check-in's catch-up, a scoring or retrospective run, a failed
# pull's retry.
ONE_OFF = ("catch_up:", "scoring:", "retro:", "retry:")
# A job missed while the process was down still runs on start within this window (SPEC: a
# missed check-in is caught up, an old one skipped); APScheduler's default is one second.
MISFIRE_GRACE_SECONDS = 6 * 3600


def team_timezone(team: Team, default: str) -> str:
    """The timezone a team's cron schedules are read in."""
    timezone = team.checkin_timezone or default
    # Members' own timezones are the check-in job's concern; it is triggered in UTC.
    return "UTC" if timezone == "member" else timezone


class ScheduleRunner:
    """Keeps one cron job per (kind, team) in step with the database."""

    def __init__(self, services: Services, client: Any, jobs: Mapping[str, Job]) -> None:
        self.services = services
        self.client = client
        self.jobs = jobs
        self.scheduler = AsyncIOScheduler(
            timezone=zoneinfo.ZoneInfo("UTC"),
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )

    async def start(self) -> None:
        """Start inside the running loop, load the schedules, then catch up once per team."""
        self.scheduler.start()
        self.scheduler.add_job(self.sync, IntervalTrigger(minutes=SYNC_MINUTES), id="sync")
        if "take_over" in self.jobs:
            self.scheduler.add_job(
                self.jobs["take_over"],
                IntervalTrigger(seconds=TAKE_OVER_SECONDS),
                args=(self.services, self.client),
                id="take_over",
            )
        # Scoring DMs and retrospective digests (SPEC §8): every minute, and once now, so what
        # was owed while the process was down (or failed for a passing reason) goes out.
        for name in ("scoring", "retro"):
            if name in self.jobs:
                args = (self.services, self.client)
                job = self.jobs[name]
                self.scheduler.add_job(
                    job, IntervalTrigger(minutes=SCORING_MINUTES), args=args, id=name
                )
                self.scheduler.add_job(job, args=args, id=f"{name}:start")
        await self.sync()
        self._catch_up()

    def _catch_up(self) -> None:
        """Run the `catch_up` job of every team with a check-in now, in the background."""
        if "catch_up" not in self.jobs:
            return
        for job in self.scheduler.get_jobs():
            if job.id.startswith("checkin:"):
                team_id = job.args[2]
                self.scheduler.add_job(
                    self.jobs["catch_up"], args=job.args, id=f"catch_up:{team_id}"
                )

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def sync(self) -> None:
        """Add, change or drop cron jobs so they match the teams' schedules."""
        async with self.services.database.session() as session:
            teams = (await session.exec(select(Team))).all()
            pulled = []
            if "pull" in self.jobs:
                query = select(Kpi).where(col(Kpi.source).is_not(None)).order_by(col(Kpi.id))
                pulled = list((await session.exec(query)).all())
        wanted = {
            job_id: trigger for team in teams for job_id, trigger in self._triggers(team).items()
        }
        by_id = {team.id: team for team in teams}
        for kpi in pulled:
            wanted.update(self._pull_trigger(kpi, by_id.get(kpi.team_id)))
        for job in self.scheduler.get_jobs():
            if job.id in GLOBAL_JOBS or job.id.startswith(ONE_OFF):
                continue
            if job.id not in wanted:
                job.remove()
        for job_id, (kind, row_id, trigger) in wanted.items():
            existing = self.scheduler.get_job(job_id)
            if existing is None or str(existing.trigger) != str(trigger):
                self.scheduler.add_job(
                    self.pull if kind == "pull" else self.jobs[kind],
                    trigger,
                    args=(self.services, self.client, row_id),
                    id=job_id,
                    replace_existing=True,
                )
        log.info("scheduler: %d team and source jobs", len(wanted))

    async def pull(self, services: Services, client: Any, kpi_id: int) -> None:
        """Pull a KPI's source; when it failed, run it again at the retry time it gives."""
        retry = await self.jobs["pull"](services, client, kpi_id)
        if retry is not None:
            self.scheduler.add_job(
                self.pull,
                DateTrigger(retry),
                args=(services, client, kpi_id),
                id=f"retry:{kpi_id}",
                replace_existing=True,
            )

    def _pull_trigger(self, kpi: Kpi, team: Team | None) -> dict[str, tuple[str, int, BaseTrigger]]:
        """The cron job of a KPI's pull source, in its team's timezone."""
        schedule = (kpi.source or {}).get("schedule")
        if team is None or not isinstance(schedule, str):
            return {}
        timezone = team_timezone(team, self.services.settings.okrbot_timezone)
        trigger = CronTrigger.from_crontab(schedule, timezone=zoneinfo.ZoneInfo(timezone))
        return {f"pull:{kpi.id}": ("pull", kpi.id or 0, trigger)}

    def _triggers(self, team: Team) -> dict[str, tuple[str, int, BaseTrigger]]:
        timezone = team_timezone(team, self.services.settings.okrbot_timezone)
        out: dict[str, tuple[str, int, BaseTrigger]] = {}
        if team.checkin_schedule and "sweep" in self.jobs:
            sweep = IntervalTrigger(minutes=SWEEP_MINUTES)
            out[f"sweep:{team.id}"] = ("sweep", team.id or 0, sweep)
        for kind, schedule in (
            ("checkin", team.checkin_schedule),
            ("digest", team.digest_schedule),
        ):
            if schedule and kind in self.jobs:
                trigger = CronTrigger.from_crontab(schedule, timezone=zoneinfo.ZoneInfo(timezone))
                out[f"{kind}:{team.id}"] = (kind, team.id or 0, trigger)
        return out
