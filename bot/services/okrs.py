"""Reading OKRs for people: which team a request means, and where its objectives stand."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
from storage.models import Cycle, KeyResult, Membership, Objective, Team


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


def kr_view(kr: KeyResult, expected: float) -> KrView:
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


async def team_status(
    *, database: Database, workspace_id: str, teams: Sequence[Team], now: dt.datetime
) -> list[TeamStatus]:
    """Objectives and KRs of each team in the current cycle: two queries whatever the size."""
    async with database.session() as session:
        cycle = await current_cycle(session, workspace_id, now.date())
        if cycle is None:
            return [TeamStatus(t.id or 0, t.name, None, 0.0, ()) for t in teams]
        team_ids = [team.id for team in teams]
        objectives = (
            await session.exec(
                select(Objective)
                .where(Objective.cycle_id == cycle.id, col(Objective.team_id).in_(team_ids))
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
