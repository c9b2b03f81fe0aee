"""Replies: taking, retaking and applying a member's answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState, Source
from bot.replies import ItemUpdate, Reading, read_reply
from bot.services.checkins.members import _person, items_in_cycle
from bot.services.checkins.model import NO_ITEMS, CheckinItem, IncomingReply, ReplyResult, _Applied
from bot.services.checkins.questions import asks_of
from bot.services.checkins.recording import apply_item
from bot.services.okrs import current_cycle
from bot.services.updates import (
    Actor,
    Origin,
    preload_krs,
    revert_reply,
    with_alerts,
)
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Person,
    ReplyMessage,
    SlackEvent,
    Workspace,
)

# -- replies ---------------------------------------------------------------------------------


async def take_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime
) -> ReplyResult | None:
    """Read a DM and record what it says. None for a Slack retry or a message already recorded
    (event id and (channel, ts) are unique rows).

    The reading (the member's items, the reader) is done in a read unit; only recording it
    takes a write unit, so a burst of replies queues for the writer as briefly as it can."""
    reading = await _read(database, message, now)
    try:
        return await database.transact(lambda session: _record_new(session, message, reading))
    except IntegrityError:
        return None


async def retake_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime
) -> ReplyResult | None:
    """An edited DM: revert what it recorded, then record the edited text in its place. A
    message never seen before is taken as new; an edit that leaves the text alone is ignored."""
    reading = await _read(database, message, now)
    try:
        result = await database.transact(
            lambda session: _record_edit(session, message, reading, now)
        )
    except IntegrityError:
        return None
    if result is not _UNSEEN:
        return result
    unseen = dataclasses.replace(message, event_id=None)  # its event id was claimed above
    return await take_reply(database=database, message=unseen, now=now)


@dataclass(frozen=True)
class _Reading:
    """A reply read against the member's items, before anything is recorded."""

    prompt_id: int | None
    round_id: int | None
    items: tuple[CheckinItem, ...]
    reading: Reading | None
    received_at: dt.datetime
    deactivated: bool = False  # the writer was marked deactivated: evidently not any more


# Returned by `_record_edit` for an edit of a message okrbot never recorded.
_UNSEEN = ReplyResult(0, None, ())


async def _read(database: Database, message: IncomingReply, now: dt.datetime) -> _Reading:
    """The prompt a reply answers, the member's items, and what the reply says of them."""
    async with database.read() as session:
        prompt = await _answered_prompt(session, message, now)
        round_ = await session.get(CheckinRound, prompt.round_id) if prompt else None
        team_id = round_.team_id if round_ else None
        cycle = await current_cycle(session, message.workspace_id, now.date())
        items = await items_in_cycle(
            session, message.workspace_id, message.user_id, team_id, now, cycle
        )
        person = await _person(session, message.workspace_id, message.user_id)
    if not items:
        return _Reading(None, round_.id if round_ else None, (), None, now)
    locale = person.locale if person and person.locale else "en"
    reading = read_reply(message.text, [item.for_reader() for item in items], locale=locale)
    return _Reading(
        prompt.id if prompt else None,
        prompt.round_id if prompt else None,
        items,
        reading,
        now,
        deactivated=bool(person and person.deactivated),
    )


async def _record_new(
    session: AsyncSession, message: IncomingReply, reading: _Reading
) -> ReplyResult | None:
    await _claim_delivery(session, message, workspace_known=bool(reading.items))
    reply = ReplyMessage(
        workspace_id=message.workspace_id,
        channel_id=message.channel_id,
        ts=message.ts,
        user_id=message.user_id,
        text=message.text[:40000],
        received_at=reading.received_at,
    )
    session.add(reply)
    await session.flush()  # a retried delivery fails here, on its event id
    return await _apply(session, reply, message, reading)


async def _record_edit(
    session: AsyncSession, message: IncomingReply, reading: _Reading, now: dt.datetime
) -> ReplyResult | None:
    await _claim_delivery(session, message, workspace_known=bool(reading.items))
    await session.flush()  # a retried delivery fails here, on its event id
    reply = await _reply_at(session, message.channel_id, message.ts)
    if reply is None:
        return _UNSEEN
    if reply.text == message.text:
        return None
    await revert_reply(session, reply.id or 0)
    reply.text, reply.edited_at, reply.undone_at = message.text[:40000], now, None
    session.add(reply)
    return await _apply(session, reply, message, reading)


async def _claim_delivery(
    session: AsyncSession, message: IncomingReply, *, workspace_known: bool
) -> None:
    """Claim the event id, which Slack's retries repeat: the row's key refuses a second claim
    when the unit flushes (an IntegrityError, which the caller takes as "handled already").
    A member with items is in a known workspace; anyone else's may need its row first."""
    if not workspace_known and await session.get(Workspace, message.workspace_id) is None:
        session.add(Workspace(id=message.workspace_id))
    if message.event_id is not None:
        session.add(SlackEvent(event_id=message.event_id, workspace_id=message.workspace_id))


async def _reply_at(session: AsyncSession, channel_id: str, ts: str) -> ReplyMessage | None:
    query = select(ReplyMessage).where(ReplyMessage.channel_id == channel_id, ReplyMessage.ts == ts)
    return (await session.exec(query)).first()


async def _apply(
    session: AsyncSession, reply: ReplyMessage, message: IncomingReply, read: _Reading
) -> ReplyResult:
    """Record what the reading found: the items' updates, the prompt answered."""
    reply.round_id = read.round_id if read.round_id is not None else reply.round_id
    session.add(reply)
    if read.reading is None:
        return ReplyResult(reply.id or 0, reply.round_id, (), answer_ts=reply.answer_ts)
    reading, now = read.reading, read.received_at
    origin = Origin(round_id=reply.round_id, reply_id=reply.id, message_ts=reply.ts)
    actor = Actor(message.workspace_id, message.user_id, Source.DM)
    applied = await _apply_reading(session, reading, read.items, actor, origin, now)
    prompt = await session.get(CheckinPrompt, read.prompt_id) if read.prompt_id else None
    if prompt is not None:
        _mark_answered(session, prompt, reading, now)
    if read.deactivated:
        await _reactivate(session, message.workspace_id, message.user_id)
    changes = await with_alerts(session, message.workspace_id, applied.changes)
    return ReplyResult(
        reply.id or 0,
        reply.round_id,
        read.items,
        tuple(changes),
        reading.unread,
        reading.skip,
        reading.no_change,
        tuple(applied.refused),
        reply.answer_ts,
        asks_of(reply, reading.questions, items=read.items),
    )


async def _answered_prompt(
    session: AsyncSession, message: IncomingReply, now: dt.datetime
) -> CheckinPrompt | None:
    """The prompt a reply answers: the one it is threaded under, else the member's latest in an
    open round. None outside a round (after the close, replies still count, without a round)."""
    query = (
        select(CheckinPrompt)
        .join(CheckinRound, col(CheckinRound.id) == CheckinPrompt.round_id)
        .where(
            CheckinPrompt.workspace_id == message.workspace_id,
            CheckinPrompt.user_id == message.user_id,
            col(CheckinPrompt.state).in_(
                [PromptState.CLAIMED, PromptState.SENT, PromptState.ANSWERED, PromptState.SKIPPED]
            ),
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        .order_by(col(CheckinPrompt.claimed_at).desc(), col(CheckinPrompt.id).desc())
    )
    prompts = (await session.exec(query)).all()
    threaded = [p for p in prompts if message.thread_ts and p.message_ts == message.thread_ts]
    return (threaded or list(prompts) or [None])[0]


def _mark_answered(
    session: AsyncSession, prompt: CheckinPrompt, reading: Reading, now: dt.datetime
) -> None:
    if prompt.state == PromptState.SKIPPED and prompt.error == NO_ITEMS:
        return
    prompt.state = PromptState.SKIPPED if reading.skip else PromptState.ANSWERED
    prompt.answered_at = prompt.answered_at or now
    session.add(prompt)


async def _reactivate(session: AsyncSession, workspace_id: str, user_id: str) -> None:
    """Someone who writes to the bot is evidently not deactivated any more."""
    await session.exec(
        update(Person)
        .where(col(Person.workspace_id) == workspace_id, col(Person.user_id) == user_id)
        .values(deactivated=False)
    )  # type: ignore[call-overload]


async def _apply_reading(
    session: AsyncSession,
    reading: Reading,
    items: Sequence[CheckinItem],
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
) -> _Applied:
    """Record each update the reader was sure of; `no change` confirms the KRs not mentioned."""
    applied = _Applied()
    if reading.skip:
        return applied
    by_number = {item.n: item for item in items}
    await preload_krs(session, [item.ref_id for item in items if item.kind == "kr"])
    for update_ in reading.updates:
        item = by_number.get(update_.n)
        if item is not None:
            await apply_item(
                session, item, said=update_, actor=actor, origin=origin, now=now, applied=applied
            )
    if reading.no_change:
        mentioned = {update_.n for update_ in reading.updates}
        for item in items:
            if item.kind == "kr" and item.n not in mentioned:
                said = ItemUpdate(item.n)
                await apply_item(
                    session, item, said=said, actor=actor, origin=origin, now=now, applied=applied
                )
    return applied


async def remember_answer(*, database: Database, reply_id: int, answer_ts: str) -> None:
    """Where the bot's confirmation of a reply is, so an edit updates it in place."""
    async with database.session() as session:
        await session.exec(
            update(ReplyMessage).where(col(ReplyMessage.id) == reply_id).values(answer_ts=answer_ts)
        )
