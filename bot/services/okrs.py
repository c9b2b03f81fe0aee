"""Reading OKRs for people: which team a request means, and where its objectives stand."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotFound
from bot.i18n import N_
from bot.progress import (
    KrStatus,
    clamp,
    expected_progress,
    is_exceeded,
    kr_progress,
    kr_status,
    objective_progress,
)
from storage.db import Database
from storage.models import (
    Cycle,
    Initiative,
    KeyResult,
    KrUpdate,
    Membership,
    Objective,
    Team,
)


@dataclass(frozen=True)
class KrView:
    """A key result as a summary shows it."""

    id: int
    number: int
    title: str
    owner_id: str | None
    start: float
    target: float
    current: float
    unit: str
    weight: float
    progress: float
    exceeded: bool
    status: KrStatus
    confidence: int | None

    @property
    def short_id(self) -> str:
        return f"KR-{self.number}"


@dataclass(frozen=True)
class ObjectiveView:
    title: str
    owner_id: str | None
    progress: float
    key_results: tuple[KrView, ...]


@dataclass(frozen=True)
class TeamStatus:
    """Where one team's objectives stand in the current cycle."""

    team_id: int
    team_name: str
    cycle_name: str | None
    expected: float
    objectives: tuple[ObjectiveView, ...]


async def current_cycle(session: AsyncSession, workspace_id: str, today: dt.date) -> Cycle | None:
    """The cycle running today, else the one that started most recently."""
    query = (
        select(Cycle)
        .where(Cycle.workspace_id == workspace_id, col(Cycle.start) <= today)
        .order_by(col(Cycle.end) >= today, col(Cycle.start))
    )
    rows = (await session.exec(query)).all()
    if rows:
        return rows[-1]
    query = select(Cycle).where(Cycle.workspace_id == workspace_id).order_by(col(Cycle.start))
    return (await session.exec(query)).first()


class KrFields(Protocol):
    """What a KR summary reads: a KeyResult, or a row of KR_COLUMNS."""

    id: int | None
    number: int
    title: str
    owner_id: str | None
    start: float
    target: float
    current: float
    unit: str
    weight: float
    confidence: int | None
    status: str | None


KR_COLUMNS = (
    KeyResult.id,
    KeyResult.objective_id,
    KeyResult.number,
    KeyResult.title,
    KeyResult.owner_id,
    KeyResult.start,
    KeyResult.target,
    KeyResult.current,
    KeyResult.unit,
    KeyResult.weight,
    KeyResult.confidence,
    KeyResult.status,
)


def kr_view(kr: KrFields, expected: float) -> KrView:
    progress = kr_progress(kr.start, kr.target, kr.current)
    status = kr_status(progress, expected, confidence=kr.confidence, explicit=kr.status)
    return KrView(
        id=kr.id or 0,
        number=kr.number,
        title=kr.title,
        owner_id=kr.owner_id,
        start=kr.start,
        target=kr.target,
        current=kr.current,
        unit=kr.unit,
        weight=kr.weight,
        progress=progress,
        exceeded=is_exceeded(kr.start, kr.target, kr.current),
        status=status,
        confidence=kr.confidence,
    )


async def find_teams(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    channel_id: str | None = None,
    name: str | None = None,
) -> list[Team]:
    """The teams a request means: the named team, else the channel's, else the caller's."""
    async with database.session() as session:
        return await _find_teams(session, workspace_id, user_id, channel_id, name)


async def _find_teams(
    session: AsyncSession, workspace_id: str, user_id: str, channel_id: str | None, name: str | None
) -> list[Team]:
    base = select(Team).where(Team.workspace_id == workspace_id).order_by(col(Team.name))
    if name:
        query = base.where(func.lower(Team.name) == name.strip().lower())
        found = (await session.exec(query)).all()
        if not found:
            query = base.where(func.lower(Team.name).contains(name.strip().lower()))
            found = (await session.exec(query)).all()
        return list(found)
    if channel_id:
        found = (await session.exec(base.where(Team.channel_id == channel_id))).all()
        if found:
            return list(found)
    members = select(Membership.team_id).where(Membership.user_id == user_id)
    return list((await session.exec(base.where(col(Team.id).in_(members)))).all())


async def status_for(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    channel_id: str | None,
    name: str | None,
    now: dt.datetime,
) -> list[TeamStatus]:
    """`/okr status`: find the teams the request means and where they stand, in one unit of
    work (this is the hottest read in the product)."""
    async with database.session() as session:
        teams = await _find_teams(session, workspace_id, user_id, channel_id, name)
        return await _team_status(session, workspace_id, teams, now) if teams else []


async def team_status(
    *, database: Database, workspace_id: str, teams: Sequence[Team], now: dt.datetime
) -> list[TeamStatus]:
    """Objectives and KRs of each team in the current cycle."""
    async with database.session() as session:
        return await _team_status(session, workspace_id, teams, now)


async def _team_status(
    session: AsyncSession, workspace_id: str, teams: Sequence[Team], now: dt.datetime
) -> list[TeamStatus]:
    """Three queries whatever the size: the cycle, the objectives, their KRs."""
    cycle = await current_cycle(session, workspace_id, now.date())
    if cycle is None:
        return [TeamStatus(t.id or 0, t.name, None, 0.0, ()) for t in teams]
    objectives = (
        await session.exec(
            select(Objective)
            .where(
                Objective.cycle_id == cycle.id, col(Objective.team_id).in_([t.id for t in teams])
            )
            .order_by(col(Objective.position), col(Objective.id))
        )
    ).all()
    krs = (
        await session.exec(
            select(KeyResult)
            .where(col(KeyResult.objective_id).in_([o.id for o in objectives]))
            .order_by(col(KeyResult.position), col(KeyResult.id))
        )
    ).all()
    expected = expected_progress(cycle.start, cycle.end, now)
    by_objective: dict[int, list[KrView]] = defaultdict(list)
    for kr in krs:
        by_objective[kr.objective_id].append(kr_view(kr, expected))
    by_team: dict[int, list[ObjectiveView]] = defaultdict(list)
    for objective in objectives:
        views = tuple(by_objective[objective.id or 0])
        progress = objective_progress((kr.progress, kr.weight) for kr in views)
        by_team[objective.team_id].append(
            ObjectiveView(objective.title, objective.owner_id, clamp(progress), views)
        )
    return [
        TeamStatus(team.id or 0, team.name, cycle.name, expected, tuple(by_team[team.id or 0]))
        for team in teams
    ]


async def teams_by_id(*, database: Database, workspace_id: str, team_ids: set[int]) -> list[Team]:
    """The workspace's teams with these ids, by name."""
    async with database.session() as session:
        query = select(Team).where(Team.workspace_id == workspace_id, col(Team.id).in_(team_ids))
        return list((await session.exec(query.order_by(col(Team.name)))).all())


_KR_REF = re.compile(r"^(?:kr[-\s#]?|#)?(\d+)$", re.IGNORECASE)


def _matches(kr: KeyResult, ref: str) -> bool:
    ref = ref.casefold()
    return ref in (alias.casefold() for alias in kr.aliases) or ref in kr.title.casefold()


async def find_kr(*, database: Database, workspace_id: str, ref: str, user_id: str) -> KeyResult:
    """The KR a person means: `KR-7`, `7`, an alias or words of its title.

    Among several matches, the caller's own KRs win; still several is an error listing them.
    """
    ref = ref.strip()
    async with database.session() as session:
        number = _KR_REF.match(ref)
        if number:
            query = select(KeyResult).where(
                KeyResult.workspace_id == workspace_id, KeyResult.number == int(number.group(1))
            )
            found = list((await session.exec(query)).all())
        else:
            rows = await session.exec(
                select(KeyResult).where(KeyResult.workspace_id == workspace_id)
            )
            found = [kr for kr in rows.all() if ref and _matches(kr, ref)]
    if len(found) > 1:
        found = [kr for kr in found if kr.owner_id == user_id] or found
    if not found:
        raise NotFound(what=ref or "?")
    if len(found) > 1:
        ids = ", ".join(f"KR-{kr.number}" for kr in sorted(found, key=lambda kr: kr.number))
        raise InvalidInput(N_("`{ref}` could mean {ids}; say which one."), ref=ref, ids=ids)
    return found[0]


@dataclass(frozen=True)
class InitiativeView:
    id: int
    title: str
    status: str
    kr_short_id: str


@dataclass(frozen=True)
class Mine:
    """What one person owns in the current cycle."""

    key_results: tuple[KrView, ...]
    initiatives: tuple[InitiativeView, ...]
    expected: float


async def my_items(
    *, database: Database, workspace_id: str, user_id: str, now: dt.datetime
) -> Mine:
    """The caller's KRs and initiatives in the current cycle: three queries."""
    async with database.session() as session:
        cycle = await current_cycle(session, workspace_id, now.date())
        if cycle is None:
            return Mine((), (), 0.0)
        in_cycle = select(Objective.id).where(Objective.cycle_id == cycle.id)
        krs = (
            await session.exec(
                select(KeyResult)
                .where(col(KeyResult.objective_id).in_(in_cycle), KeyResult.owner_id == user_id)
                .order_by(col(KeyResult.number))
            )
        ).all()
        rows = (
            await session.exec(
                select(Initiative, KeyResult.number)
                .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
                .where(col(KeyResult.objective_id).in_(in_cycle), Initiative.owner_id == user_id)
                .order_by(col(Initiative.id))
            )
        ).all()
    expected = expected_progress(cycle.start, cycle.end, now)
    initiatives = tuple(InitiativeView(i.id or 0, i.title, i.status, f"KR-{n}") for i, n in rows)
    return Mine(tuple(kr_view(kr, expected) for kr in krs), initiatives, expected)


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    author_id: str | None
    source: str
    old: float | None
    new: float | None
    confidence: int | None
    status: str | None
    note: str | None
    reverted: bool


async def kr_history(
    *, database: Database, kr: KeyResult, limit: int = 25
) -> tuple[list[HistoryEntry], int]:
    """The latest changes to a KR (newest first) and how many there are in all."""
    async with database.session() as session:
        total = (
            await session.exec(
                select(func.count()).select_from(KrUpdate).where(KrUpdate.kr_id == kr.id)
            )
        ).one()
        rows = (
            await session.exec(
                select(KrUpdate)
                .where(KrUpdate.kr_id == kr.id)
                .order_by(col(KrUpdate.created_at).desc(), col(KrUpdate.id).desc())
                .limit(limit)
            )
        ).all()
    entries = [
        HistoryEntry(
            row.created_at,
            row.author_id,
            row.source,
            row.old_value,
            row.new_value,
            row.confidence,
            row.status,
            row.note,
            row.reverted,
        )
        for row in rows
    ]
    return entries, int(total)


async def get_kr(*, database: Database, workspace_id: str, kr_id: int) -> KeyResult:
    """One KR of the workspace, by id."""
    async with database.session() as session:
        kr = await session.get(KeyResult, kr_id)
    if kr is None or kr.workspace_id != workspace_id:
        raise NotFound(what=f"KR #{kr_id}")
    return kr
