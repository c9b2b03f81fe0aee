"""Scoring a cycle's KRs (SPEC §8): an owner's score from 0 to 1 and a line of retrospective,
beside the suggestion okrbot makes (progress rounded to 0.1). A closed KR keeps its score."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.progress import kr_progress, suggested_score
from bot.services.okrs import find_kr_in
from bot.services.updates import Actor, kr_for_change
from storage.db import Database
from storage.models import utcnow


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
        kr, _ = await kr_for_change(session, actor, found.id or 0)
        kr.score, kr.score_note, kr.score_suggested = score, note or None, False
        kr.updated_at = utcnow()
        session.add(kr)
        suggested = suggested_score(kr_progress(kr.start, kr.target, kr.current))
        return Scored(f"KR-{kr.number}", kr.title, score, kr.score_note, suggested)

    return await database.transact(work)
