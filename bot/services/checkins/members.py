"""Members of a team and the items a prompt lists for them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.domain import Role
from bot.progress import KpiStatus, expected_progress, kpi_status
from bot.services.checkins.model import OPEN_INITIATIVES, CheckinItem
from bot.services.kpis import latest_kpi_values
from bot.services.okrs import current_cycle, kr_view
from bot.services.updates import period_of
from storage.models import (
    Cycle,
    Initiative,
    KeyResult,
    Kpi,
    Membership,
    Objective,
    Person,
)

# -- members and their items -----------------------------------------------------------------


async def _members(session: AsyncSession, team_id: int) -> list[str]:
    query = (
        select(Membership.user_id)
        .where(Membership.team_id == team_id, Membership.role == Role.MEMBER)
        .distinct()
        .order_by(col(Membership.user_id))
    )
    return list((await session.exec(query)).all())


async def _people(
    session: AsyncSession, workspace_id: str, user_ids: Iterable[str]
) -> dict[str, Person]:
    query = select(Person).where(
        Person.workspace_id == workspace_id, col(Person.user_id).in_(list(user_ids))
    )
    return {person.user_id: person for person in (await session.exec(query)).all()}


async def _person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    return (await _people(session, workspace_id, [user_id])).get(user_id)


async def member_items(
    session: AsyncSession, workspace_id: str, user_id: str, team_id: int | None, now: dt.datetime
) -> tuple[CheckinItem, ...]:
    """A member's KRs and open initiatives in the current cycle and the KPIs they own (of one
    team, or all teams), numbered from 1 in the order the prompt shows them."""
    cycle = await current_cycle(session, workspace_id, now.date())
    return await items_in_cycle(session, workspace_id, user_id, team_id, now, cycle)


async def items_in_cycle(
    session: AsyncSession,
    workspace_id: str,
    user_id: str,
    team_id: int | None,
    now: dt.datetime,
    cycle: Cycle | None,
) -> tuple[CheckinItem, ...]:
    """`member_items` for a cycle the caller has already looked up."""
    objectives = select(Objective.id).where(Objective.workspace_id == workspace_id)
    if cycle is not None:
        objectives = objectives.where(Objective.cycle_id == cycle.id)
    if team_id is not None:
        objectives = objectives.where(Objective.team_id == team_id)
    expected = expected_progress(cycle.start, cycle.end, now) if cycle else 0.0
    krs = await _kr_items(session, user_id, objectives, expected)
    kpis = await _kpi_items(session, workspace_id, user_id, team_id, now)
    initiatives = await _initiative_items(session, user_id, objectives)
    numbered = enumerate([*krs, *kpis, *initiatives], start=1)
    return tuple(dataclasses.replace(item, n=n) for n, item in numbered)


Objectives = SelectOfScalar[int | None]


async def _kr_items(
    session: AsyncSession, user_id: str, objectives: Objectives, expected: float
) -> list[CheckinItem]:
    query = (
        select(KeyResult)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(col(KeyResult.objective_id).in_(objectives), KeyResult.owner_id == user_id)
        .order_by(col(Objective.position), col(KeyResult.position), col(KeyResult.id))
    )
    items = []
    for kr in (await session.exec(query)).all():
        view = kr_view(kr, expected)
        items.append(
            CheckinItem(
                n=0,
                kind="kr",
                ref_id=kr.id or 0,
                title=kr.title,
                unit=kr.unit,
                short_id=view.short_id,
                aliases=tuple(kr.aliases),
                last=kr.current,
                target=kr.target,
                progress=view.progress,
                exceeded=view.exceeded,
                status=view.status,
            )
        )
    return items


async def _kpi_items(
    session: AsyncSession, workspace_id: str, user_id: str, team_id: int | None, now: dt.datetime
) -> list[CheckinItem]:
    query = select(Kpi).where(Kpi.workspace_id == workspace_id, Kpi.owner_id == user_id)
    if team_id is not None:
        query = query.where(Kpi.team_id == team_id)
    kpis = (await session.exec(query.order_by(col(Kpi.id)))).all()
    latest = await latest_kpi_values(session, [kpi.id or 0 for kpi in kpis])
    items = []
    for kpi in kpis:
        last = latest.get(kpi.id or 0)
        status: KpiStatus | None = None
        if last is not None:
            status = kpi_status(last, target=kpi.target, warn=kpi.warn, direction=kpi.direction)
        period = period_of(now.date(), kpi.period)
        items.append(
            CheckinItem(
                n=0,
                kind="kpi",
                ref_id=kpi.id or 0,
                title=kpi.name,
                unit=kpi.unit,
                aliases=tuple(kpi.aliases),
                last=last,
                target=kpi.target,
                status=status,
                period=period,
            )
        )
    return items


async def _initiative_items(
    session: AsyncSession, user_id: str, objectives: Objectives
) -> list[CheckinItem]:
    query = (
        select(Initiative, KeyResult.number)
        .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
        .where(
            col(KeyResult.objective_id).in_(objectives),
            Initiative.owner_id == user_id,
            col(Initiative.status).in_(OPEN_INITIATIVES),
        )
        .order_by(col(Initiative.id))
    )
    return [
        CheckinItem(0, "initiative", i.id or 0, i.title, short_id=f"KR-{n}", status=i.status)
        for i, n in (await session.exec(query)).all()
    ]
