"""Digest jobs: on a team's digest schedule, after a check-in round closes, and on demand.

Each is idempotent. The period key names the occasion, and one `DigestSent` row per (team,
period, recipient) is claimed before anything is sent, so running a job twice, or on two
replicas, sends nothing twice:

- `schedule:<slot>` is the schedule's own fire time the job ran for, in the team's timezone
  (`schedule:2026-11-20T16:00:00+07:00`), not the clock when it happened to run: a replica a
  little late, or a restart catching up a missed run hours later, claims the same key. (With
  no slot in the look-back window it is the team-local day.)
- `round:<id>` is the digest that follows the close of round `id`.
- `manual:<day>` is `okrbot digest send`: at most one a day (team-local) per recipient, on top
  of the scheduled and round digests.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot.notify import DigestReport, RetroReport, send_digest, send_retros
from bot.services import digests
from bot.services.container import Services
from scheduler.runner import MISFIRE_GRACE_SECONDS, team_timezone
from storage.models import Team

# How far back a job looks for the slot it runs for: the runner's catch-up window, plus slack.
LOOKBACK = dt.timedelta(seconds=MISFIRE_GRACE_SECONDS, minutes=5)


async def send_team_digest(services: Services, client: Any, team_id: int) -> None:
    """The "digest" job: the team's digest for the schedule slot that just fired."""
    await deliver_scheduled_digest(services, client, team_id)


async def deliver_scheduled_digest(
    services: Services, client: Any, team_id: int
) -> DigestReport | None:
    """The scheduled digest, claimed under its schedule slot."""
    team = await digests.get_team(database=services.database, team_id=team_id)
    if team is None:
        return None
    now = services.clock()
    zone = zoneinfo.ZoneInfo(team_timezone(team, services.settings.okrbot_timezone))
    slot = schedule_slot(team.digest_schedule, zone, now) if team.digest_schedule else None
    # Outside any slot (a run long after its time): at most one such digest a day.
    period = f"schedule:{slot.isoformat() if slot else now.astimezone(zone).date()}"
    return await send_digest(client, services, team_id=team_id, period=period)


def schedule_slot(schedule: str, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """The latest time the cron `schedule` fired at or before `now`, within LOOKBACK."""
    trigger = CronTrigger.from_crontab(schedule, timezone=zone)
    slot = None
    fire = trigger.get_next_fire_time(None, now - LOOKBACK)
    while fire is not None and fire <= now:
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return slot


async def send_round_digest(services: Services, client: Any, round_id: int) -> None:
    """After a round closes, its digest to the team's managers and channel; the check-in loop
    calls this once the round is closed (calling it again sends nothing twice)."""
    team_id = await digests.team_of_round(database=services.database, round_id=round_id)
    if team_id is not None:
        await send_digest(
            client, services, team_id=team_id, period=f"round:{round_id}", round_id=round_id
        )


async def send_digest_now(services: Services, client: Any, team: Team) -> DigestReport | None:
    """`okrbot digest send --team NAME`: today's on-demand digest."""
    zone = zoneinfo.ZoneInfo(team_timezone(team, services.settings.okrbot_timezone))
    day = services.clock().astimezone(zone).date()
    return await send_digest(client, services, team_id=team.id or 0, period=f"manual:{day}")


async def send_retrospectives(services: Services, client: Any) -> RetroReport:
    """The "retro" job (every minute and on start): every retrospective digest owed since a
    cycle closed; closing owes them, so this sends what a close could not (no Slack token at
    hand, a passing Slack error, a process stopped halfway)."""
    return await send_retros(client, services)
