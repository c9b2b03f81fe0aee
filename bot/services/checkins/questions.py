"""Questions: a reply's likely readings the reader was not sure of, asked about in its thread
(SPEC §5), and the member's answer recorded through the same write path as the reply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Source
from bot.errors import NotAllowed, NotFound
from bot.i18n import N_
from bot.replies import ItemUpdate, Question
from bot.services.checkins.model import Answered, Ask, CheckinItem, Choice, _Applied
from bot.services.checkins.recording import apply_item
from bot.services.updates import Actor, Origin, with_alerts
from storage.db import Database
from storage.models import ReplyMessage, SlackEvent


def asks_of(
    reply: ReplyMessage, questions: Sequence[Question], *, items: Sequence[CheckinItem]
) -> tuple[Ask, ...]:
    """The reader's questions about a reply, each candidate tied to the item it would update."""
    reply_id, version = reply.id or 0, reply_version(reply)
    by_number = {item.n: item for item in items}
    asks = []
    for place, question in enumerate(questions):
        choices = tuple(
            _choice(reply_id, place, by_number[candidate.n], candidate, version)
            for candidate in question.candidates
            if candidate.n in by_number
        )
        if choices:
            asks.append(Ask(reply_id, place, question.text, choices, version))
    return tuple(asks)


def reply_version(reply: ReplyMessage) -> int:
    """Which text of a reply a question is about: 0 as sent, then the time of its last edit."""
    return round(reply.edited_at.timestamp() * 1_000_000) if reply.edited_at else 0


def _choice(reply_id: int, place: int, item: CheckinItem, said: ItemUpdate, version: int) -> Choice:
    return Choice(
        reply_id=reply_id,
        question=place,
        kind=item.kind,
        ref_id=item.ref_id,
        title=item.title,
        unit=item.unit,
        value=said.value,
        confidence=said.confidence,
        status=said.status,
        note=said.note,
        version=version,
    )


async def answer_question(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    reply_id: int,
    question: int,
    version: int,
    choice: Choice | None,
    now: dt.datetime,
) -> Answered:
    """Record the tapped choice (None: "No") as if the reply had said it plainly: same
    history, same reply (so its *Undo* takes it back too). A question is answered once; a
    second tap, or a tap on its other buttons, records nothing."""

    async def work(session: AsyncSession) -> Answered:
        reply = await _own_reply(session, workspace_id, user_id, reply_id)
        if reply_version(reply) != version:
            return Answered("stale", reply_id)
        claim = f"ask:{reply_id}:{version}:{question}"
        session.add(SlackEvent(event_id=claim, workspace_id=workspace_id))
        await session.flush()
        if choice is None:
            return Answered("declined", reply_id)
        origin = Origin(round_id=reply.round_id, reply_id=reply.id, message_ts=reply.ts)
        actor = Actor(workspace_id, user_id, Source.DM)
        applied = _Applied()
        await apply_item(
            session,
            _item(choice),
            said=_update(choice),
            actor=actor,
            origin=origin,
            now=now,
            applied=applied,
        )
        changes = await with_alerts(session, workspace_id, applied.changes)
        return Answered("recorded", reply_id, tuple(changes), tuple(applied.refused))

    try:
        return await database.transact(work)
    except IntegrityError:
        return Answered("already", reply_id)


async def _own_reply(
    session: AsyncSession, workspace_id: str, user_id: str, reply_id: int
) -> ReplyMessage:
    reply = await session.get(ReplyMessage, reply_id)
    if reply is None or reply.workspace_id != workspace_id:
        raise NotFound(what=f"reply #{reply_id}")
    if reply.user_id != user_id:
        raise NotAllowed(N_("Only the person who wrote a check-in reply can answer about it."))
    return reply


def _item(choice: Choice) -> CheckinItem:
    return CheckinItem(0, choice.kind, choice.ref_id, choice.title, choice.unit)


def _update(choice: Choice) -> ItemUpdate:
    return ItemUpdate(0, choice.value, choice.confidence, choice.status, choice.note)
