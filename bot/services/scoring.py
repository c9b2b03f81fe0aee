"""Scoring a cycle's KRs (SPEC §8): an owner's score from 0 to 1 and a line of retrospective,
beside the suggestion okrbot makes (progress rounded to 0.1), by command or in reply to the one
DM each KR owner gets when the cycle enters scoring. A closed KR keeps its score."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState, Source
from bot.errors import Closed
from bot.progress import kr_progress, suggested_score
from bot.replies.scores import ScoreReading, read_scores
from bot.services.checkins.model import LEASE, IncomingReply
from bot.services.okrs import find_kr_in
from bot.services.updates import Actor, kr_for_change
from storage.db import Database
from storage.models import Cycle, KeyResult, Objective, ScoringPrompt, SlackEvent, utcnow


@dataclass(frozen=True)
class Scored:
    """A score recorded: the KR, its score and note, and what okrbot had suggested."""

    short_id: str
    title: str
    score: float
    note: str | None
    suggested: float


async def score_kr(
    *, database: Database, actor: Actor, ref: str, score: float, note: str | None = None
) -> Scored:
    """`/okr score KR-7 0.7 [note]`: the KR `ref` names, scored by someone who may change it;
    a closed KR refuses, saying why. Scoring again replaces the score."""

    async def work(session: AsyncSession) -> Scored:
        found = await find_kr_in(session, actor.workspace_id, ref, actor.user_id or "")
        kr, _, _ = await kr_for_change(session, actor, found.id or 0)
        kr.score, kr.score_note, kr.score_suggested = score, note or None, False
        kr.updated_at = utcnow()
        session.add(kr)
        suggested = suggested_score(kr_progress(kr.start, kr.target, kr.current))
        return Scored(f"KR-{kr.number}", kr.title, score, kr.score_note, suggested)

    return await database.transact(work)


# -- the scoring DM: one per KR owner per cycle (SPEC §8) ------------------------------------


@dataclass(frozen=True)
class ScoringItem:
    """One of an owner's KRs as the scoring DM numbers it."""

    n: int
    kr_id: int
    short_id: str
    title: str
    progress: float
    suggested: float


@dataclass(frozen=True)
class ScoringDelivery:
    """A scoring DM to send now, claimed by this process. `abandoned_at` is set on a take-over:
    when the claim was first taken, the earliest its DM may already have reached Slack."""

    prompt_id: int
    workspace_id: str
    user_id: str
    cycle_name: str
    items: tuple[ScoringItem, ...]
    abandoned_at: dt.datetime | None = None


def is_scoring(cycle: Cycle, today: dt.date) -> bool:
    """A cycle in its last `scoring_days` (or past its end) and not yet closed."""
    first_day = cycle.end - dt.timedelta(days=cycle.scoring_days - 1)
    return cycle.closed_at is None and cycle.start <= today and today >= first_day


async def scoring_items(
    session: AsyncSession, cycle_id: int, user_id: str
) -> tuple[ScoringItem, ...]:
    """The owner's open KRs of the cycle, numbered from 1 as the DM lists them."""
    query = (
        select(KeyResult)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            Objective.cycle_id == cycle_id,
            KeyResult.owner_id == user_id,
            col(KeyResult.closed_at).is_(None),
        )
        .order_by(col(Objective.position), col(KeyResult.position), col(KeyResult.number))
    )
    items = []
    for n, kr in enumerate((await session.exec(query)).all(), start=1):
        progress = kr_progress(kr.start, kr.target, kr.current)
        items.append(
            ScoringItem(
                n, kr.id or 0, f"KR-{kr.number}", kr.title, progress, suggested_score(progress)
            )
        )
    return tuple(items)


async def owners_to_score(*, database: Database, now: dt.datetime) -> list[tuple[int, str]]:
    """(cycle id, owner) pairs still owed a scoring DM: owners of open KRs in cycles now in
    scoring, without a claim, or with a claim its sender abandoned (not renewed in the lease)."""
    async with database.read() as session:
        cycles = (await session.exec(select(Cycle).where(col(Cycle.closed_at).is_(None)))).all()
        due = [cycle.id for cycle in cycles if is_scoring(cycle, now.date())]
        if not due:
            return []
        owners = (
            await session.exec(
                select(Objective.cycle_id, KeyResult.owner_id)
                .join(Objective, col(Objective.id) == KeyResult.objective_id)
                .where(
                    col(Objective.cycle_id).in_(due),
                    col(KeyResult.owner_id).is_not(None),
                    col(KeyResult.closed_at).is_(None),
                )
                .distinct()
            )
        ).all()
        claims = (
            await session.exec(select(ScoringPrompt).where(col(ScoringPrompt.cycle_id).in_(due)))
        ).all()
    settled = {(c.cycle_id, c.user_id) for c in claims if not _abandoned(c, now)}
    return sorted({(c, u) for c, u in owners if u and (c, u) not in settled})


def _abandoned(claim: ScoringPrompt, now: dt.datetime) -> bool:
    renewed = claim.renewed_at or claim.claimed_at
    return claim.state == PromptState.CLAIMED and renewed < now - LEASE


async def claim_scoring(
    *, database: Database, cycle_id: int, user_id: str, now: dt.datetime
) -> ScoringDelivery | None:
    """Take the (cycle, owner) claim, or one its sender abandoned; None when another process
    holds it or it is settled. The unique row is what makes the DM go once, across replicas
    and restarts."""

    async def work(session: AsyncSession) -> ScoringDelivery | None:
        cycle = await session.get(Cycle, cycle_id)
        if cycle is None or not is_scoring(cycle, now.date()):
            return None
        query = select(ScoringPrompt).where(
            ScoringPrompt.cycle_id == cycle_id, ScoringPrompt.user_id == user_id
        )
        claim = (await session.exec(query)).first()
        abandoned_at = None
        if claim is None:
            claim = ScoringPrompt(
                workspace_id=cycle.workspace_id, cycle_id=cycle_id, user_id=user_id, renewed_at=now
            )
        elif _abandoned(claim, now):
            taken = await session.exec(  # type: ignore[call-overload]
                update(ScoringPrompt)
                .where(
                    col(ScoringPrompt.id) == claim.id,
                    col(ScoringPrompt.renewed_at) == claim.renewed_at,
                )
                .values(renewed_at=now)
            )
            if taken.rowcount != 1:
                return None  # another process took it over first
            abandoned_at = claim.claimed_at
        else:
            return None
        session.add(claim)
        await session.flush()
        items = await scoring_items(session, cycle_id, user_id)
        return ScoringDelivery(
            claim.id or 0, cycle.workspace_id, user_id, cycle.name, items, abandoned_at
        )

    try:
        return await database.transact(work)
    except IntegrityError:
        return None  # another replica inserted the same claim first


async def mark_scoring(
    *,
    database: Database,
    prompt_id: int,
    now: dt.datetime,
    channel_id: str | None = None,
    ts: str | None = None,
    error: str | None = None,
) -> None:
    """Settle a claim: `sent` with where its DM is, or `failed` with Slack's error."""
    async with database.session() as session:
        claim = await session.get(ScoringPrompt, prompt_id)
        if claim is None:
            return
        if error is None:
            claim.state, claim.sent_at = PromptState.SENT, now
            claim.channel_id, claim.message_ts = channel_id, ts
        else:
            claim.state, claim.error = PromptState.FAILED, error[:200]
        session.add(claim)


# -- reading the reply ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoresTaken:
    """What a reply to the scoring DM recorded: (item, score, note) and what it could not."""

    cycle_name: str
    recorded: tuple[tuple[ScoringItem, float, str], ...]
    unread: tuple[str, ...] = ()
    refused: tuple[Closed, ...] = ()


# A scoring DM still open to an answer: sent (or answered, and open to a change of mind) in a
# cycle not yet closed.
_OPEN = (
    col(ScoringPrompt.state).in_((PromptState.SENT, PromptState.ANSWERED)),
    col(Cycle.closed_at).is_(None),
)
_PENDING = (
    select(ScoringPrompt, Cycle)
    .join(Cycle, col(Cycle.id) == ScoringPrompt.cycle_id)
    .where(
        ScoringPrompt.workspace_id == bindparam("workspace_id"),
        ScoringPrompt.user_id == bindparam("user_id"),
        *_OPEN,
    )
    .order_by(col(ScoringPrompt.id).desc())
    .limit(1)
)


async def awaiting_scores(
    database: Database, messages: Sequence[IncomingReply]
) -> set[tuple[str, str]]:
    """(workspace, person) of the messages' writers whose scoring DM is open: only their
    messages may be scores (`take_scores`). One statement for any number of messages."""
    query = (
        select(ScoringPrompt.workspace_id, ScoringPrompt.user_id)
        .join(Cycle, col(Cycle.id) == ScoringPrompt.cycle_id)
        .where(col(ScoringPrompt.user_id).in_({message.user_id for message in messages}), *_OPEN)
    )
    async with database.read() as session:
        found = set((await session.exec(query)).all())
    return {(m.workspace_id, m.user_id) for m in messages} & found


async def take_scores(
    *, database: Database, message: IncomingReply, now: dt.datetime
) -> ScoresTaken | None:
    """A DM read as scores when it answers the person's scoring DM: any reply in its thread,
    or a DM that reads wholly as scores while the scoring DM is unanswered. None otherwise (it
    is a check-in reply then), and for a Slack retry of a reply already taken."""
    params = {"workspace_id": message.workspace_id, "user_id": message.user_id}
    async with database.read() as session:
        pending = (await session.exec(_PENDING, params=params)).first()  # type: ignore[call-overload]
    if pending is None:
        return None

    async def work(session: AsyncSession) -> ScoresTaken | None:
        prompt, cycle = pending
        items = await scoring_items(session, cycle.id or 0, message.user_id)
        reading = read_scores(message.text, len(items))
        in_thread = message.thread_ts is not None and message.thread_ts == prompt.message_ts
        whole = reading.read_anything and not reading.unread
        if not in_thread and not (prompt.state == PromptState.SENT and whole):
            return None
        if message.event_id:
            if await session.get(SlackEvent, message.event_id) is not None:
                return None
            session.add(SlackEvent(event_id=message.event_id, workspace_id=message.workspace_id))
        taken = await _record_scores(session, message, items, reading)
        prompt.state, prompt.answered_at = PromptState.ANSWERED, now
        session.add(prompt)
        return ScoresTaken(cycle.name, taken[0], reading.unread, taken[1])

    return await database.transact(work)


async def _record_scores(
    session: AsyncSession,
    message: IncomingReply,
    items: tuple[ScoringItem, ...],
    reading: ScoreReading,
) -> tuple[tuple[tuple[ScoringItem, float, str], ...], tuple[Closed, ...]]:
    actor = Actor(message.workspace_id, message.user_id, Source.DM)
    said = {line.n: (line.score, line.note) for line in reading.scores}
    recorded, refused = [], []
    for item in items:
        kr = await session.get(KeyResult, item.kr_id)
        if kr is None:
            continue
        if item.n in said:
            score, note = said[item.n]
        elif reading.as_suggested and kr.score is None:
            score, note = item.suggested, ""
        else:
            continue
        try:
            await kr_for_change(session, actor, item.kr_id)
        except Closed as closed:
            refused.append(closed)
            continue
        kr.score, kr.score_note, kr.score_suggested = score, note or None, False
        session.add(kr)
        recorded.append((item, score, note))
    return tuple(recorded), tuple(refused)
