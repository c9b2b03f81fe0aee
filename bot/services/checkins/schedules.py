"""Schedule math (pure): slots, round keys, who is away."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from apscheduler.triggers.cron import CronTrigger

from bot.services.people import local_today
from storage.models import (
    Person,
)

# -- schedules (pure) ------------------------------------------------------------------------


def latest_slot(
    schedule: str, timezone: str, now: dt.datetime, *, within: dt.timedelta
) -> dt.datetime | None:
    """The latest time the cron `schedule` fired in `timezone` at or before `now`, looking back
    no further than `within`; None when it did not fire in that window."""
    trigger = CronTrigger.from_crontab(schedule, timezone=zoneinfo.ZoneInfo(timezone))
    fire = trigger.get_next_fire_time(None, now - within)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return latest


def round_key(slot: dt.datetime, *, per_member: bool) -> dt.datetime:
    """The round's `scheduled_for`: the slot's instant, or for `timezone: member` its wall time
    (Monday 09:00) labelled UTC, which every member's own Monday 09:00 shares."""
    if per_member:
        return slot.replace(tzinfo=None).replace(tzinfo=dt.UTC)
    return slot.astimezone(dt.UTC)


def _member_due(key: dt.datetime, timezone: str) -> dt.datetime:
    """When a `timezone: member` round's wall time comes in one member's timezone."""
    wall = key.replace(tzinfo=None)
    return wall.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.UTC)


def is_away(person: Person | None, now: dt.datetime) -> bool:
    """Away until (and including) `away_until`, a day in the person's own timezone."""
    if person is None or person.away_until is None:
        return False
    return local_today(person.timezone, now) <= person.away_until
