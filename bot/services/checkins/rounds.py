"""Rounds: finding teams, due slots, claiming a round, heartbeats and take-over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState
from bot.errors import NotFound
from bot.services.checkins.members import _members, _people
from bot.services.checkins.model import GRACE, LEASE, MEMBER_TIMEZONE, RoundWork
from bot.services.checkins.schedules import _member_due, latest_slot, round_key
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Team,
)

# -- rounds ------------------------------------------------------------------------------------


async def find_team(*, database: Database, name: str, workspace_id: str | None = None) -> Team:
    """A team by name (case-insensitive), in one workspace or in whichever holds it."""
    async with database.read() as session:
        query = select(Team).where(func.lower(Team.name) == name.strip().lower())
        if workspace_id:
            query = query.where(Team.workspace_id == workspace_id)
        team = (await session.exec(query)).first()
    if team is None:
        raise NotFound(what=name)
    return team


async def members_without_timezone(*, database: Database, team_id: int) -> list[tuple[str, str]]:
    """(workspace, member) of a `timezone: member` team whose Slack timezone is not known yet."""
    async with database.read() as session:
        team = await session.get(Team, team_id)
        if team is None or team.checkin_timezone != MEMBER_TIMEZONE:
            return []
        members = await _members(session, team_id)
        people = await _people(session, team.workspace_id, members)
    missing = [user for user in members if not (people.get(user) and people[user].timezone)]
    return [(team.workspace_id, user) for user in missing]


async def due_rounds(
    *,
    database: Database,
    team_id: int,
    now: dt.datetime,
    default_timezone: str,
    lease: dt.timedelta = LEASE,
) -> list[RoundWork]:
    """Open the team's rounds whose slot has come (within the grace window), then say what to
    send in each open round: members now due who have no prompt yet, and abandoned claims.

    A round another sender is working on (a claim within the lease) is left to it, so replicas
    do not split one workspace's rate limit between them; the claims keep them apart anyway."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or not team.checkin_schedule:
            return []
        timezones = await _member_timezones(session, team, default_timezone)
    opened = set()
    for key in _new_slots(team, timezones, now):
        round_id, mine = await _claim_round(database, team, key, timezones, now)
        if mine:
            opened.add(round_id)
    work = await _open_rounds_work(database, team, timezones, now, lease, opened)
    return [item for item in work if item.due or item.stale]


async def _member_timezones(
    session: AsyncSession, team: Team, default_timezone: str
) -> dict[str, str]:
    """Each member's timezone for this team's check-ins: the team's, or with `timezone: member`
    the member's own Slack timezone (the default until it is known)."""
    members = await _members(session, team.id or 0)
    if team.checkin_timezone != MEMBER_TIMEZONE:
        return dict.fromkeys(members, team.checkin_timezone or default_timezone)
    people = await _people(session, team.workspace_id, members)
    return {
        user: (people[user].timezone if user in people else None) or default_timezone
        for user in members
    }


def _new_slots(team: Team, timezones: dict[str, str], now: dt.datetime) -> set[dt.datetime]:
    """Round keys whose slot came for some member within the grace window."""
    per_member = team.checkin_timezone == MEMBER_TIMEZONE
    keys = set()
    for timezone in set(timezones.values()):
        slot = latest_slot(team.checkin_schedule or "", timezone, now, within=GRACE)
        if slot is not None:
            keys.add(round_key(slot, per_member=per_member))
    return keys


def _due_at(team: Team, key: dt.datetime, timezone: str) -> dt.datetime:
    """When a member's prompt of the round keyed `key` is due."""
    return _member_due(key, timezone) if team.checkin_timezone == MEMBER_TIMEZONE else key


async def _claim_round(
    database: Database,
    team: Team,
    key: dt.datetime,
    timezones: dict[str, str],
    now: dt.datetime,
) -> tuple[int, bool]:
    """(round id, True when this call opened it). The unique (team, scheduled_for) decides.
    The round closes `close_after` past the last member's due time."""
    last_due = max([key, *(_due_at(team, key, tz) for tz in timezones.values())])
    try:
        async with database.session() as session:
            row = CheckinRound(
                workspace_id=team.workspace_id,
                team_id=team.id or 0,
                scheduled_for=key,
                opened_at=now,
                heartbeat_at=now,
                closes_at=last_due + dt.timedelta(minutes=team.close_after_minutes),
            )
            session.add(row)
            await session.flush()
            return row.id or 0, True
    except IntegrityError:
        pass  # another replica (or an earlier run) opened it
    async with database.session() as session:
        query = select(CheckinRound.id).where(
            CheckinRound.team_id == team.id, CheckinRound.scheduled_for == key
        )
        return (await session.exec(query)).one() or 0, False


async def open_round_now(
    *, database: Database, team_id: int, now: dt.datetime, default_timezone: str = "UTC"
) -> RoundWork:
    """`okrbot checkin start`: a round for the team right now, every member due at once."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None:
            raise NotFound(what=f"team #{team_id}")
        timezones = await _member_timezones(session, team, default_timezone)
    key = now.astimezone(dt.UTC).replace(microsecond=0)
    round_id, mine = await _claim_round(database, team, key, timezones, now)
    due = tuple((user, key) for user in sorted(timezones)) if mine else ()
    return RoundWork(round_id, team.name, due, workspace_id=team.workspace_id)


async def _open_rounds_work(
    database: Database,
    team: Team,
    timezones: dict[str, str],
    now: dt.datetime,
    lease: dt.timedelta,
    opened: set[int],
) -> list[RoundWork]:
    """For each open round of the team: members due without a prompt, and stale claims."""
    async with database.session() as session:
        query = select(CheckinRound).where(
            CheckinRound.team_id == team.id,
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        rounds = (await session.exec(query.order_by(col(CheckinRound.scheduled_for)))).all()
        prompts = (
            await session.exec(
                select(CheckinPrompt).where(col(CheckinPrompt.round_id).in_([r.id for r in rounds]))
            )
        ).all()
    work, idle = [], []
    for round_ in rounds:
        mine = [p for p in prompts if p.round_id == round_.id]
        if round_.id in opened or not _sender_active(round_, now, lease):
            found = _round_work(team, round_, timezones, mine, now, lease)
            work.append(found)
            if round_.heartbeat_at is not None and not (found.due or found.stale):
                idle.append(found.round_id)
    await _forget_heartbeats(database, idle, now - lease)
    return work


async def _forget_heartbeats(database: Database, round_ids: list[int], cutoff: dt.datetime) -> None:
    """Rounds whose sender died with nothing left to send: no longer worth a take-over look."""
    if not round_ids:
        return
    async with database.session() as session:
        await session.exec(
            update(CheckinRound)
            .where(col(CheckinRound.id).in_(round_ids), col(CheckinRound.heartbeat_at) < cutoff)
            .values(heartbeat_at=None)
        )


def _round_work(
    team: Team,
    round_: CheckinRound,
    timezones: dict[str, str],
    prompts: Sequence[CheckinPrompt],
    now: dt.datetime,
    lease: dt.timedelta,
) -> RoundWork:
    claimed = {prompt.user_id for prompt in prompts}
    due = tuple(
        (user, at)
        for user, tz in sorted(timezones.items())
        if user not in claimed and (at := _due_at(team, round_.scheduled_for, tz)) <= now
    )
    stale = tuple(
        p.id or 0
        for p in prompts
        if p.state == PromptState.CLAIMED and (p.renewed_at or p.claimed_at) < now - lease
    )
    return RoundWork(round_.id or 0, team.name, due, stale, team.workspace_id)


def _sender_active(round_: CheckinRound, now: dt.datetime, lease: dt.timedelta) -> bool:
    """A live sender is working on the round: its heartbeat is within the lease."""
    return round_.heartbeat_at is not None and round_.heartbeat_at > now - lease


def _lapsed(lease_cutoff: dt.datetime) -> ColumnElement[bool]:
    """A `claimed` prompt whose claim was last renewed (or taken) before the cutoff."""
    return or_(
        and_(col(CheckinPrompt.renewed_at).is_(None), col(CheckinPrompt.claimed_at) < lease_cutoff),
        col(CheckinPrompt.renewed_at) < lease_cutoff,
    )


async def team_workspace(*, database: Database, team_id: int) -> str | None:
    """The workspace a team belongs to."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
    return team.workspace_id if team else None


async def abandoned_teams(
    *, database: Database, now: dt.datetime, lease: dt.timedelta = LEASE
) -> list[int]:
    """Teams with an open round whose sender stopped beating without finishing (killed)."""
    async with database.read() as session:
        query = select(CheckinRound.team_id).where(
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
            col(CheckinRound.heartbeat_at) < now - lease,
        )
        return sorted(set((await session.exec(query)).all()))


async def beat(
    *,
    database: Database,
    now: dt.datetime,
    round_id: int | None = None,
    prompt_ids: Iterable[int] = (),
    reminder_ids: Iterable[int] = (),
) -> None:
    """A live sender's heartbeat: its round, and the prompt and reminder claims it holds."""
    prompt_ids, reminder_ids = list(prompt_ids), list(reminder_ids)
    async with database.session() as session:
        if round_id is not None:
            await session.exec(
                update(CheckinRound)
                .where(col(CheckinRound.id) == round_id)
                .values(heartbeat_at=now)
            )
        if prompt_ids:
            await session.exec(
                update(CheckinPrompt)
                .where(
                    col(CheckinPrompt.id).in_(prompt_ids),
                    col(CheckinPrompt.state) == PromptState.CLAIMED,
                )
                .values(renewed_at=now)
            )
        if reminder_ids:
            await session.exec(
                update(CheckinPrompt)
                .where(
                    col(CheckinPrompt.id).in_(reminder_ids),
                    col(CheckinPrompt.reminded_at).is_(None),
                    col(CheckinPrompt.reminder_claimed_at).is_not(None),
                )
                .values(reminder_claimed_at=now)
            )


async def release_round(*, database: Database, round_id: int) -> None:
    """The sender is done with the round for now: nobody need wait for its heartbeat."""
    async with database.session() as session:
        await session.exec(
            update(CheckinRound).where(col(CheckinRound.id) == round_id).values(heartbeat_at=None)
        )
