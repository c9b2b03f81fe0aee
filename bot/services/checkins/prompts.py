"""Prompts: the exactly-once claims, taking back abandoned ones, sending now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState
from bot.services.checkins.members import _person, as_listed, listing_of, member_items
from bot.services.checkins.model import DEACTIVATED, LEASE, NO_ITEMS, CheckinItem, Delivery
from bot.services.checkins.rounds import _lapsed
from bot.services.checkins.schedules import is_away
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Membership,
    Person,
    Team,
)


async def release_prompt(
    *, database: Database, prompt_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> None:
    """Hand a claim this sender could not settle to whoever sweeps next: it is left `claimed`
    with its renewal a lease old, so it counts as abandoned at once (and its DM is looked at
    before any new send)."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(
                col(CheckinPrompt.id) == prompt_id, col(CheckinPrompt.state) == PromptState.CLAIMED
            )
            .values(renewed_at=now - lease)
        )


async def claim_prompt(
    *,
    database: Database,
    round_id: int,
    user_id: str,
    due_at: dt.datetime,
    now: dt.datetime,
) -> Delivery | None:
    """Claim (round, member) before sending. Away or deactivated members, and members with
    nothing to check in on, get their row in that state and nothing to send. None when someone
    else holds the claim or there is nothing to send."""
    try:
        async with database.session() as session:
            round_ = await session.get(CheckinRound, round_id)
            team = await session.get(Team, round_.team_id) if round_ else None
            if round_ is None or team is None:
                return None
            person = await _person(session, round_.workspace_id, user_id)
            items = await member_items(session, round_.workspace_id, user_id, team.id, now)
            state, error = _initial_state(person, items, now)
            row = CheckinPrompt(
                workspace_id=round_.workspace_id,
                round_id=round_id,
                user_id=user_id,
                state=state,
                due_at=due_at,
                claimed_at=now,
                error=error,
                listing=listing_of(items),
            )
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    if state != PromptState.CLAIMED:
        return None
    locale = person.locale if person else None
    return Delivery(
        row.id, round_.workspace_id, user_id, locale, team.name, items, round_id, claimed_at=now
    )


async def _prompt_of(session: AsyncSession, round_id: int, user_id: str) -> CheckinPrompt:
    query = select(CheckinPrompt).where(
        CheckinPrompt.round_id == round_id, CheckinPrompt.user_id == user_id
    )
    return (await session.exec(query)).one()


def _initial_state(
    person: Person | None, items: Sequence[CheckinItem], now: dt.datetime
) -> tuple[PromptState, str | None]:
    if is_away(person, now):
        return PromptState.AWAY, None
    if person is not None and person.deactivated:
        return PromptState.FAILED, DEACTIVATED
    if not items:
        return PromptState.SKIPPED, NO_ITEMS
    return PromptState.CLAIMED, None


async def reclaim_prompt(
    *, database: Database, prompt_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> Delivery | None:
    """Take over a claim abandoned by a crashed sender; None when someone else took it first.

    The delivery carries the claim's first time: any sender that held it may have reached
    Slack after it, so the caller must look there before sending again. `claimed_at` never
    moves (only `renewed_at` does), so a chain of failed take-overs still looks back far
    enough."""
    async with database.session() as session:
        prompt = await session.get(CheckinPrompt, prompt_id)
        if prompt is None:
            return None
        result = await session.exec(
            update(CheckinPrompt)
            .where(
                col(CheckinPrompt.id) == prompt_id,
                col(CheckinPrompt.state) == PromptState.CLAIMED,
                _lapsed(now - lease),
            )
            .values(renewed_at=now)
        )
        if result.rowcount != 1:
            return None
        round_ = await session.get(CheckinRound, prompt.round_id)
        team = await session.get(Team, round_.team_id) if round_ else None
        if round_ is None or team is None:
            return None
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        items = await member_items(session, prompt.workspace_id, prompt.user_id, team.id, now)
        items = as_listed(items, prompt.listing)  # the sender that died may have sent these
    return Delivery(
        prompt_id,
        prompt.workspace_id,
        prompt.user_id,
        person.locale if person else None,
        team.name,
        items,
        prompt.round_id,
        prompt.claimed_at,
        prompt.claimed_at,
    )


async def sent_count(*, database: Database, round_id: int) -> int:
    """How many prompts of a round went out."""
    async with database.session() as session:
        query = select(func.count()).where(
            CheckinPrompt.round_id == round_id, CheckinPrompt.state == PromptState.SENT
        )
        return int((await session.exec(query)).one())


async def mark_sent(
    *, database: Database, prompt_id: int, channel_id: str, ts: str, now: dt.datetime
) -> None:
    """The DM went out: remember where, so replies and reminders find it."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt_id)
            .values(state=PromptState.SENT, channel_id=channel_id, message_ts=ts, sent_at=now)
        )


async def mark_failed(
    *, database: Database, prompt_id: int, error: str, deactivated: bool = False
) -> None:
    """The DM cannot be delivered (the member left Slack, say): never tried again this round.

    A deactivated member is remembered as such, and skipped by later rounds."""
    async with database.session() as session:
        prompt = await session.get(CheckinPrompt, prompt_id)
        if prompt is None:
            return
        prompt.state, prompt.error = PromptState.FAILED, error[:200]
        session.add(prompt)
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        if deactivated and person is not None:
            person.deactivated = True
            session.add(person)


async def prompt_now(
    *, database: Database, workspace_id: str, user_id: str, now: dt.datetime
) -> Delivery:
    """`/okr checkin`: the caller's prompt now, in their open round if they have one (claiming
    it, so the round does not send a second one), else outside any round."""
    async with database.session() as session:
        open_round = await _open_round_of(session, workspace_id, user_id, now)
        team = await session.get(Team, open_round.team_id) if open_round else None
        items = await member_items(session, workspace_id, user_id, team.id if team else None, now)
        person = await _person(session, workspace_id, user_id)
    prompt_id = round_id = None
    if open_round is not None:
        prompt_id, listing = await _claim_for_caller(database, open_round, user_id, now, items)
        items, round_id = as_listed(items, listing), open_round.id
    locale = person.locale if person else None
    team_name = team.name if team else ""
    return Delivery(prompt_id, workspace_id, user_id, locale, team_name, items, round_id)


async def _open_round_of(
    session: AsyncSession, workspace_id: str, user_id: str, now: dt.datetime
) -> CheckinRound | None:
    """The most recent open round of one of the member's teams."""
    teams = select(Membership.team_id).where(
        Membership.workspace_id == workspace_id, Membership.user_id == user_id
    )
    query = (
        select(CheckinRound)
        .where(
            col(CheckinRound.team_id).in_(teams),
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        .order_by(col(CheckinRound.scheduled_for).desc())
    )
    return (await session.exec(query)).first()


async def _claim_for_caller(
    database: Database,
    round_: CheckinRound,
    user_id: str,
    now: dt.datetime,
    items: Sequence[CheckinItem],
) -> tuple[int | None, list[str] | None]:
    """The caller's prompt row in the round, claimed now listing `items`, or the one already
    there; with the listing its DMs number the items by (an earlier prompt's, if it had one)."""
    try:
        async with database.session() as session:
            row = CheckinPrompt(
                workspace_id=round_.workspace_id,
                round_id=round_.id or 0,
                user_id=user_id,
                due_at=now,
                claimed_at=now,
                listing=listing_of(items),
            )
            session.add(row)
            await session.flush()
            return row.id, row.listing
    except IntegrityError:
        async with database.session() as session:
            row = await _prompt_of(session, round_.id or 0, user_id)
            if not row.listing:  # a prompt that listed nothing, or from before listings
                row.listing = listing_of(items)
                session.add(row)
            return row.id, row.listing
