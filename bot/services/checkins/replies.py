"""Replies: taking, retaking and applying a member's answer."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState, Source
from bot.replies import ItemUpdate, Reading
from bot.services.checkins.members import _people, as_listed, items_of_members
from bot.services.checkins.model import NO_ITEMS, CheckinItem, IncomingReply, ReplyResult, _Applied
from bot.services.checkins.questions import asks_of
from bot.services.checkins.recording import apply_item
from bot.services.okrs import current_cycle
from bot.services.readers import HERE, Readers
from bot.services.updates import (
    Actor,
    Origin,
    preload_kpis,
    preload_krs,
    revert_reply,
    with_alerts,
)
from storage.db import Database, insert_later, keep, write_deferred
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    KeyResult,
    Person,
    ReplyMessage,
    SlackEvent,
    Workspace,
)

# -- replies ---------------------------------------------------------------------------------


async def take_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime, readers: Readers = HERE
) -> ReplyResult | None:
    """Read a DM and record what it says. None for a Slack retry or a message already recorded
    (event id and (channel, ts) are unique rows)."""
    (result,) = await take_replies(database=database, messages=[message], now=now, readers=readers)
    return result


async def take_replies(
    *,
    database: Database,
    messages: Sequence[IncomingReply],
    now: dt.datetime,
    readers: Readers = HERE,
    readings: Sequence[ReplyReading] | None = None,
) -> list[ReplyResult | None]:
    """`take_reply` for several DMs at once, in one read unit and one write unit: a burst of
    replies pays for its statements once a batch, not once a reply.

    The reading (the members' items, the reader) is done in the read unit; only recording it
    takes the write unit, so the batch holds the writer as briefly as it can. A batch that
    meets a retry recorded meanwhile by another replica is taken again one reply at a time.
    `readings` are the messages' readings when they were read ahead (`read_replies`)."""
    if not messages:
        return []
    read = (
        readings if readings is not None else await read_replies(database, messages, now, readers)
    )
    try:
        return await database.transact(lambda session: _record_new(session, messages, read))
    except IntegrityError:  # another replica recorded one of them meanwhile
        if len(messages) == 1:
            return [None]
        return [
            await take_reply(database=database, message=m, now=now, readers=readers)
            for m in messages
        ]


async def retake_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime, readers: Readers = HERE
) -> ReplyResult | None:
    """An edited DM: revert what it recorded, then record the edited text in its place. A
    message never seen before is taken as new; an edit that leaves the text alone is ignored."""
    (reading,) = await read_replies(database, [message], now, readers)
    try:
        result = await database.transact(
            lambda session: _record_edit(session, message, reading, now)
        )
    except IntegrityError:
        return None
    if result is not _UNSEEN:
        return result
    unseen = dataclasses.replace(message, event_id=None)  # its event id was claimed above
    return await take_reply(database=database, message=unseen, now=now, readers=readers)


async def rehearse(*, database: Database, now: dt.datetime, readers: Readers = HERE) -> bool:
    """Read and record a reply of a real member, in a unit that is rolled back: a fresh process
    compiles (and on PostgreSQL prepares) the reply path's statements before a round's first
    burst needs them, and nothing changes. False when nobody has a KR to reply about."""
    query = select(KeyResult.workspace_id, KeyResult.owner_id).where(
        col(KeyResult.owner_id).is_not(None), col(KeyResult.closed_at).is_(None)
    )
    async with database.read() as session:
        found = (await session.exec(query.limit(1))).first()
    if found is None:
        return False
    workspace_id, user_id = found
    probe = IncomingReply(workspace_id, user_id or "", "D0REHEARSAL", "0.000000", "no change")
    (seen,) = await read_replies(database, [probe], now, readers)
    values = [f"{item.n}: {item.last:g}" for item in seen.items if item.last is not None]
    reply = dataclasses.replace(probe, text="\n".join(values) or probe.text)
    (reading,) = await read_replies(database, [reply], now, readers)
    async with database.rehearsal() as session:
        await _record_new(session, [reply], [reading])
    return True


@dataclass(frozen=True)
class ReplyReading:
    """A reply read against the member's items, before anything is recorded."""

    prompt_id: int | None
    round_id: int | None
    items: tuple[CheckinItem, ...]
    reading: Reading | None
    received_at: dt.datetime
    deactivated: bool = False  # the writer was marked deactivated: evidently not any more


# Returned by `_record_edit` for an edit of a message okrbot never recorded.
_UNSEEN = ReplyResult(0, None, ())


async def read_replies(
    database: Database,
    messages: Sequence[IncomingReply],
    now: dt.datetime,
    readers: Readers = HERE,
) -> list[ReplyReading]:
    """For each reply: the prompt it answers, the member's items, and what it says of them.
    A few statements per workspace, whatever the number of replies; the reader runs where
    `readers` says."""
    if not messages:
        return []
    context: dict[int, tuple[CheckinPrompt | None, tuple[CheckinItem, ...], Person | None]] = {}
    async with database.read() as session:
        for workspace_id, batch in _by_workspace(messages).items():
            users = sorted({message.user_id for _, message in batch})
            prompts = await _answered_prompts(session, workspace_id, users, now)
            cycle = await current_cycle(session, workspace_id, now.date())
            answered = {at: _answered(prompts, message) for at, message in batch}
            wants = {(m.user_id, answered[at][1]) for at, m in batch}
            items = await items_of_members(session, workspace_id, wants, now, cycle)
            people = await _people(session, workspace_id, users)
            for at, message in batch:
                prompt, team_id = answered[at]
                own = as_listed(items[message.user_id, team_id], prompt and prompt.listing)
                context[at] = (prompt, own, people.get(message.user_id))
    jobs, asked = [], []
    for at, message in enumerate(messages):
        _, items, person = context[at]
        if items:
            jobs.append((message.text, tuple(item.for_reader() for item in items), _locale(person)))
            asked.append(at)
    read = dict(zip(asked, await readers.read(jobs), strict=True))
    return [_reading_of(*context[at], now, read.get(at)) for at in range(len(messages))]


async def _let_others_run() -> None:
    """A moment for the event loop's other tasks (the answers to the batch before, a request
    to acknowledge) between the pieces of a batch's work: SQLite statements never suspend."""
    await asyncio.sleep(0)


def _by_workspace(
    messages: Sequence[IncomingReply],
) -> dict[str, list[tuple[int, IncomingReply]]]:
    grouped: dict[str, list[tuple[int, IncomingReply]]] = {}
    for at, message in enumerate(messages):
        grouped.setdefault(message.workspace_id, []).append((at, message))
    return grouped


def _locale(person: Person | None) -> str:
    return person.locale if person and person.locale else "en"


def _reading_of(
    prompt: CheckinPrompt | None,
    items: tuple[CheckinItem, ...],
    person: Person | None,
    now: dt.datetime,
    reading: Reading | None,
) -> ReplyReading:
    round_id = prompt.round_id if prompt else None
    if not items or reading is None:
        return ReplyReading(None, round_id, (), None, now)
    return ReplyReading(
        prompt.id if prompt else None,
        round_id,
        items,
        reading,
        now,
        deactivated=bool(person and person.deactivated),
    )


async def _record_new(
    session: AsyncSession, messages: Sequence[IncomingReply], readings: Sequence[ReplyReading]
) -> list[ReplyResult | None]:
    """Record the replies not recorded before (a Slack retry repeats an event id; an edit
    racing its original repeats the message), then what each one says."""
    taken = await _not_taken(session, messages)
    for at in taken:
        await _claim_delivery(session, messages[at], workspace_known=bool(readings[at].items))
    await write_deferred(session, SlackEvent)  # the claims, in one statement
    replies = await _insert_replies(session, {at: (messages[at], readings[at]) for at in taken})
    await _preload(session, [readings[at] for at in taken])
    applied = {}
    for at in taken:
        applied[at] = await _apply(session, replies[at], messages[at], readings[at])
        await _let_others_run()
    results: list[ReplyResult | None] = [None] * len(messages)
    for workspace_id, batch in _by_workspace(messages).items():
        done = [(at, applied[at]) for at, _ in batch if at in applied]
        changes = [change for _, result in done for change in result.changes]
        alerted = iter(await with_alerts(session, workspace_id, changes))
        for at, result in done:
            results[at] = dataclasses.replace(
                result, changes=tuple(next(alerted) for _ in result.changes)
            )
    return results


async def _insert_replies(
    session: AsyncSession, new: dict[int, tuple[IncomingReply, ReplyReading]]
) -> dict[int, ReplyMessage]:
    """Insert the replies' rows in one statement, which tells their ids (the ORM would insert
    them one by one), and the rows as recorded, by position in the batch."""
    if not new:
        return {}
    rows = {
        at: ReplyMessage(
            workspace_id=message.workspace_id,
            channel_id=message.channel_id,
            ts=message.ts,
            user_id=message.user_id,
            text=message.text[:40000],
            round_id=reading.round_id,
            received_at=reading.received_at,
        )
        for at, (message, reading) in new.items()
    }
    statement = insert(ReplyMessage).returning(
        col(ReplyMessage.id), col(ReplyMessage.channel_id), col(ReplyMessage.ts)
    )
    values = [row.model_dump(exclude={"id"}) for row in rows.values()]
    connection = await session.connection()
    ids = {(c, ts): i for i, c, ts in (await connection.execute(statement, values)).all()}
    for row in rows.values():
        row.id = ids[row.channel_id, row.ts]
    return rows


async def _not_taken(session: AsyncSession, messages: Sequence[IncomingReply]) -> list[int]:
    """Positions of the messages neither claimed by their event id nor recorded yet, the
    first of any repeated within the batch."""
    events = [m.event_id for m in messages if m.event_id is not None]
    claimed: set[str | None] = set()
    if events:
        query = select(SlackEvent.event_id).where(col(SlackEvent.event_id).in_(events))
        claimed.update((await session.exec(query)).all())
    places = select(ReplyMessage.channel_id, ReplyMessage.ts).where(
        col(ReplyMessage.channel_id).in_({m.channel_id for m in messages}),
        col(ReplyMessage.ts).in_({m.ts for m in messages}),
    )
    recorded = set((await session.exec(places)).all())
    taken = []
    for at, message in enumerate(messages):
        place = (message.channel_id, message.ts)
        if message.event_id in claimed or place in recorded:
            continue
        if message.event_id is not None:
            claimed.add(message.event_id)
        recorded.add(place)
        taken.append(at)
    return taken


async def _preload(session: AsyncSession, readings: Sequence[ReplyReading]) -> None:
    """What applying these readings reads, in a statement a kind: the KRs and KPIs they
    name (with what `updates` needs of them) and the prompts they answer."""
    items = [item for reading in readings if reading.reading for item in reading.items]
    await preload_krs(session, [item.ref_id for item in items if item.kind == "kr"])
    await preload_kpis(session, [item.ref_id for item in items if item.kind == "kpi"])
    prompt_ids = [reading.prompt_id for reading in readings if reading.prompt_id is not None]
    if prompt_ids:
        query = select(CheckinPrompt).where(col(CheckinPrompt.id).in_(prompt_ids))
        keep(session, (await session.exec(query)).all())


async def _record_edit(
    session: AsyncSession, message: IncomingReply, reading: ReplyReading, now: dt.datetime
) -> ReplyResult | None:
    await _claim_delivery(session, message, workspace_known=bool(reading.items))
    await write_deferred(session, SlackEvent)  # a retried delivery fails here, on its event id
    reply = await _reply_at(session, message.channel_id, message.ts)
    if reply is None:
        return _UNSEEN
    if reply.text == message.text:
        return None
    await revert_reply(session, reply.id or 0)
    reply.text, reply.edited_at, reply.undone_at = message.text[:40000], now, None
    reply.round_id = reading.round_id if reading.round_id is not None else reply.round_id
    session.add(reply)
    await session.flush()  # the reverted values, before the KRs are read again
    await _preload(session, [reading])
    result = await _apply(session, reply, message, reading)
    changes = await with_alerts(session, message.workspace_id, list(result.changes))
    return dataclasses.replace(result, changes=tuple(changes))


async def _claim_delivery(
    session: AsyncSession, message: IncomingReply, *, workspace_known: bool
) -> None:
    """Claim the event id, which Slack's retries repeat: the row's key refuses a second claim
    when the caller writes the claims (an IntegrityError, which it takes as "handled
    already"). A member with items is in a known workspace; anyone else's may need its row
    first (flushed before the claims)."""
    if not workspace_known and await session.get(Workspace, message.workspace_id) is None:
        session.add(Workspace(id=message.workspace_id))
    if message.event_id is not None:
        insert_later(
            session, SlackEvent, event_id=message.event_id, workspace_id=message.workspace_id
        )


async def _reply_at(session: AsyncSession, channel_id: str, ts: str) -> ReplyMessage | None:
    query = select(ReplyMessage).where(ReplyMessage.channel_id == channel_id, ReplyMessage.ts == ts)
    return (await session.exec(query)).first()


async def _apply(
    session: AsyncSession, reply: ReplyMessage, message: IncomingReply, read: ReplyReading
) -> ReplyResult:
    """Record what the reading found: the items' updates, the prompt answered."""
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
    return ReplyResult(
        reply.id or 0,
        reply.round_id,
        read.items,
        tuple(applied.changes),
        reading.unread,
        reading.skip,
        reading.no_change,
        tuple(applied.refused),
        reply.answer_ts,
        asks_of(reply, reading.questions, items=read.items),
    )


async def _answered_prompts(
    session: AsyncSession, workspace_id: str, users: list[str], now: dt.datetime
) -> list[tuple[CheckinPrompt, int]]:
    """These members' prompts in open rounds, latest first, each with its round's team."""
    query = (
        select(CheckinPrompt, CheckinRound.team_id)
        .join(CheckinRound, col(CheckinRound.id) == CheckinPrompt.round_id)
        .where(
            CheckinPrompt.workspace_id == workspace_id,
            col(CheckinPrompt.user_id).in_(users),
            col(CheckinPrompt.state).in_(
                [PromptState.CLAIMED, PromptState.SENT, PromptState.ANSWERED, PromptState.SKIPPED]
            ),
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        .order_by(col(CheckinPrompt.claimed_at).desc(), col(CheckinPrompt.id).desc())
    )
    return list((await session.exec(query)).all())


def _answered(
    prompts: Sequence[tuple[CheckinPrompt, int]], message: IncomingReply
) -> tuple[CheckinPrompt | None, int | None]:
    """The prompt a reply answers, and its team: the one it is threaded under, else the
    member's latest in an open round. None outside a round (after the close, replies still
    count, without a round, about the member's items in every team)."""
    own = [(p, team_id) for p, team_id in prompts if p.user_id == message.user_id]
    threaded = [(p, t) for p, t in own if message.thread_ts and p.message_ts == message.thread_ts]
    return (threaded or own or [(None, None)])[0]


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
    """Record each update the reader was sure of; `no change` confirms the KRs not mentioned,
    and a KR said to be unchanged on its own (`NPS unchanged`) is confirmed too."""
    applied = _Applied()
    if reading.skip:
        return applied
    by_number = {item.n: item for item in items}
    for update_ in reading.updates:
        item = by_number.get(update_.n)
        if item is not None:
            await apply_item(
                session, item, said=update_, actor=actor, origin=origin, now=now, applied=applied
            )
    mentioned = {update_.n for update_ in reading.updates}
    for item in items:
        unchanged = item.n in reading.same or (reading.no_change and item.n not in mentioned)
        if item.kind == "kr" and unchanged:
            said = ItemUpdate(item.n)
            await apply_item(
                session, item, said=said, actor=actor, origin=origin, now=now, applied=applied
            )
    return applied


async def remember_answers(*, database: Database, answers: Sequence[tuple[int, str]]) -> list[None]:
    """Where the bot's confirmation of each reply is, `(reply id, answer ts)`, so an edit
    updates it in place; one statement for all of them."""
    statement = (
        update(ReplyMessage)
        .where(col(ReplyMessage.id) == bindparam("reply_id"))
        .values(answer_ts=bindparam("answer_ts"))
    )
    async with database.session() as session:
        connection = await session.connection()
        params = [{"reply_id": reply_id, "answer_ts": ts} for reply_id, ts in answers]
        await connection.execute(statement, params)
    return [None] * len(answers)
