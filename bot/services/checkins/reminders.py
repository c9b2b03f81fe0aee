"""Reminders and closing rounds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState
from bot.services.checkins.members import _person, as_listed, member_items
from bot.services.checkins.model import (
    GRACE,
    LEASE,
    MAX_REMINDER_ATTEMPTS,
    MEMBER_TIMEZONE,
    MISSED_LOOKBACK,
    Reminder,
)
from bot.services.checkins.schedules import is_away, latest_slot
from bot.services.webhooks import record_event
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Team,
)

# -- reminders and closing -------------------------------------------------------------------


async def due_reminders(
    *, database: Database, team_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> list[Reminder]:
    """Claim the reminders now due in the team's open rounds: prompts sent `remind_after` ago
    and not answered, to members not away, not reminded yet and not being reminded by someone
    else, with tries left. The conditional claim decides who sends, whoever runs this."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None:
            return []
        since = now - dt.timedelta(minutes=team.remind_after_minutes)
        query = (
            select(CheckinPrompt)
            .join(CheckinRound, col(CheckinRound.id) == CheckinPrompt.round_id)
            .where(
                CheckinRound.team_id == team_id,
                col(CheckinRound.closed_at).is_(None),
                CheckinRound.closes_at > now,
                col(CheckinPrompt.sent_at) <= since,
                _reminder_free(now - lease),
            )
        )
        candidates = (await session.exec(query)).all()
    reminders = []
    for prompt in candidates:
        reminder = await _claim_reminder(database, prompt, team.name, now, lease)
        if reminder is not None:
            reminders.append(reminder)
    return reminders


def _reminder_free(lease_cutoff: dt.datetime) -> ColumnElement[bool]:
    """A sent prompt whose reminder is neither sent, nor held by a live sender, nor given up."""
    return and_(
        col(CheckinPrompt.state) == PromptState.SENT,
        col(CheckinPrompt.reminded_at).is_(None),
        col(CheckinPrompt.reminder_attempts) < MAX_REMINDER_ATTEMPTS,
        or_(
            col(CheckinPrompt.reminder_claimed_at).is_(None),
            col(CheckinPrompt.reminder_claimed_at) < lease_cutoff,
        ),
    )


async def _claim_reminder(
    database: Database, prompt: CheckinPrompt, team_name: str, now: dt.datetime, lease: dt.timedelta
) -> Reminder | None:
    async with database.session() as session:
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        if is_away(person, now):
            return None  # not claimed: nothing is sent while away
        result = await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt.id, _reminder_free(now - lease))
            .values(
                reminder_claimed_at=now,
                reminder_attempts=col(CheckinPrompt.reminder_attempts) + 1,
            )
        )
        if result.rowcount != 1:
            return None
        round_ = await session.get(CheckinRound, prompt.round_id)
        team_id = round_.team_id if round_ else None
        items = await member_items(session, prompt.workspace_id, prompt.user_id, team_id, now)
        items = as_listed(items, prompt.listing)
    return Reminder(
        prompt.id or 0,
        prompt.workspace_id,
        prompt.user_id,
        person.locale if person else None,
        team_name,
        prompt.channel_id,
        prompt.message_ts,
        items,
        # An earlier try may have reached Slack before it failed or its sender died.
        prompt.sent_at if prompt.reminder_attempts > 0 else None,
    )


async def mark_reminded(*, database: Database, prompt_id: int, now: dt.datetime) -> None:
    """The reminder is in the member's DM: never sent again."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt).where(col(CheckinPrompt.id) == prompt_id).values(reminded_at=now)
        )


async def release_reminder(*, database: Database, prompt_id: int, give_up: bool = False) -> None:
    """A reminder that was not sent: tried again by the next sweep while tries are left, or
    (`give_up`, the member cannot be written to) never."""
    values: dict[str, object] = {"reminder_claimed_at": None}
    if give_up:
        values["reminder_attempts"] = MAX_REMINDER_ATTEMPTS
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt_id, col(CheckinPrompt.reminded_at).is_(None))
            .values(**values)
        )


async def close_rounds(*, database: Database, team_id: int, now: dt.datetime) -> list[int]:
    """Close the team's rounds past `closes_at`; the ids this call closed (once each)."""
    async with database.session() as session:
        query = select(CheckinRound).where(
            CheckinRound.team_id == team_id,
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at <= now,
        )
        closed = []
        for checkin in (await session.exec(query)).all():
            result = await session.exec(
                update(CheckinRound)
                .where(col(CheckinRound.id) == checkin.id, col(CheckinRound.closed_at).is_(None))
                .values(closed_at=now)
            )
            if result.rowcount == 1:
                closed.append(checkin.id or 0)
                await _round_closed(session, checkin, now)
    return closed


async def _round_closed(session: AsyncSession, checkin: CheckinRound, now: dt.datetime) -> None:
    """The `round.closed` webhook event, queued with the close itself."""
    team = await session.get(Team, checkin.team_id)
    counts = select(func.count(), func.count(col(CheckinPrompt.answered_at))).where(
        CheckinPrompt.round_id == checkin.id
    )
    prompted, answered = (await session.exec(counts)).one()
    data = {
        "round_id": checkin.id,
        "team": team.name if team else None,
        "scheduled_for": checkin.scheduled_for.isoformat(),
        "closed_at": now.isoformat(),
        "prompted": prompted,
        "answered": answered,
    }
    await record_event(session, workspace_id=checkin.workspace_id, event="round.closed", data=data)


async def missed_slot(
    *, database: Database, team_id: int, now: dt.datetime, default_timezone: str
) -> dt.datetime | None:
    """The team's latest slot when it was missed by more than the grace window (and so will not
    be sent); None when the latest slot is recent, or was held."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or not team.checkin_schedule:
            return None
        timezone = team.checkin_timezone or default_timezone
        if timezone == MEMBER_TIMEZONE:
            timezone = default_timezone
        slot = latest_slot(team.checkin_schedule, timezone, now, within=MISSED_LOOKBACK)
        if slot is None or slot > now - GRACE:
            return None
        query = select(CheckinRound.id).where(
            CheckinRound.team_id == team_id,
            CheckinRound.scheduled_for >= slot - dt.timedelta(days=1),
        )
        held = (await session.exec(query)).first()
    return None if held else slot
