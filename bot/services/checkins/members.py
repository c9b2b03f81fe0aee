"""Members of a team and the items a prompt lists for them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.progress import KpiStatus, expected_progress, kpi_status
from bot.services.checkins.model import OPEN_INITIATIVES, CheckinItem
from bot.services.kpis import latest_kpi_values
from bot.services.okrs import KR_COLUMNS, current_cycle, kr_standing
from bot.services.updates import period_of
from storage.db import column_rows
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
    found = await items_of_members(session, workspace_id, [(user_id, team_id)], now, cycle)
    return found[user_id, team_id]


async def items_of_members(
    session: AsyncSession,
    workspace_id: str,
    wants: Iterable[tuple[str, int | None]],
    now: dt.datetime,
    cycle: Cycle | None,
) -> dict[tuple[str, int | None], tuple[CheckinItem, ...]]:
    """`member_items` of several (member, team) pairs at once (team None: all teams), in
    three statements whatever their number: a burst of replies reads them together."""
    wanted = set(wants)
    users = sorted({user_id for user_id, _ in wanted})
    expected = expected_progress(cycle.start, cycle.end, now) if cycle else 0.0
    krs = await _kr_items(session, workspace_id, users, cycle, expected)
    kpis = await _kpi_items(session, workspace_id, users, now)
    initiatives = await _initiative_items(session, workspace_id, users, cycle)
    owned: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for team, owner, item in [*krs, *kpis, *initiatives]:
        owned.setdefault(owner, []).append((team, item))
    found = {}
    for user_id, team_id in wanted:
        own = [item for team, item in owned.get(user_id, []) if team_id in (None, team)]
        found[user_id, team_id] = tuple(CheckinItem(n, **item) for n, item in enumerate(own, 1))
    return found


def listing_of(items: Iterable[CheckinItem]) -> list[str]:
    """What a prompt keeps of the items it lists, in its order: each one's kind and id."""
    return [_listed(item) for item in items]


def _listed(item: CheckinItem) -> str:
    return f"{item.kind}:{item.ref_id}"


def as_listed(
    items: Sequence[CheckinItem], listing: Sequence[str] | None
) -> tuple[CheckinItem, ...]:
    """The member's items numbered as their prompt listed them (`listing_of`): an item keeps
    the number the member saw, one added since comes after the prompt's, and the number of
    one gone since (closed, handed over) is given to no other. Without a listing (no prompt,
    or one from before listings were kept), the items as numbered now."""
    if not listing or listing_of(items) == listing:  # nothing changed since: the usual case
        return tuple(items)
    seen = {key: n for n, key in enumerate(listing, 1)}
    added = itertools.count(len(listing) + 1)
    numbered = [
        dataclasses.replace(item, n=seen.get(_listed(item)) or next(added)) for item in items
    ]
    return tuple(sorted(numbered, key=lambda item: item.n))


# (team id, owner, the item's fields but its number): what the three item statements give, in
# the prompt's order. The items are made once numbered: a burst of replies reads thousands.
Owned = list[tuple[int, str, dict[str, Any]]]


def _in_cycle(workspace_id: str, cycle: Cycle | None) -> list[ColumnElement[bool]]:
    where = [Objective.workspace_id == workspace_id]
    return where + ([Objective.cycle_id == cycle.id] if cycle is not None else [])


async def _kr_items(
    session: AsyncSession,
    workspace_id: str,
    users: list[str],
    cycle: Cycle | None,
    expected: float,
) -> Owned:
    query = (
        select(*KR_COLUMNS, KeyResult.aliases, Objective.team_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(*_in_cycle(workspace_id, cycle), col(KeyResult.owner_id).in_(users))
        .order_by(col(Objective.position), col(KeyResult.position), col(KeyResult.id))
    )
    items = []
    for kr in await column_rows(session, query, {}):
        progress, exceeded, status = kr_standing(kr, expected)
        item = {
            "kind": "kr",
            "ref_id": kr.id,
            "title": kr.title,
            "unit": kr.unit,
            "short_id": f"KR-{kr.number}",
            "aliases": tuple(kr.aliases),
            "last": kr.current,
            "target": kr.target,
            "progress": progress,
            "exceeded": exceeded,
            "status": status,
        }
        items.append((kr.team_id, kr.owner_id, item))
    return items


async def _kpi_items(
    session: AsyncSession, workspace_id: str, users: list[str], now: dt.datetime
) -> Owned:
    query = select(Kpi).where(Kpi.workspace_id == workspace_id, col(Kpi.owner_id).in_(users))
    kpis = (await session.exec(query.order_by(col(Kpi.id)))).all()
    latest = await latest_kpi_values(session, [kpi.id or 0 for kpi in kpis])
    items = []
    for kpi in kpis:
        last = latest.get(kpi.id or 0)
        status: KpiStatus | None = None
        if last is not None:
            status = kpi_status(last, target=kpi.target, warn=kpi.warn, direction=kpi.direction)
        item = {
            "kind": "kpi",
            "ref_id": kpi.id or 0,
            "title": kpi.name,
            "unit": kpi.unit,
            "aliases": tuple(kpi.aliases),
            "last": last,
            "target": kpi.target,
            "status": status,
            "period": period_of(now.date(), kpi.period),
        }
        items.append((kpi.team_id, kpi.owner_id or "", item))
    return items


async def _initiative_items(
    session: AsyncSession, workspace_id: str, users: list[str], cycle: Cycle | None
) -> Owned:
    query = (
        select(Initiative, KeyResult.number, Objective.team_id)
        .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            *_in_cycle(workspace_id, cycle),
            col(Initiative.owner_id).in_(users),
            col(Initiative.status).in_(OPEN_INITIATIVES),
        )
        .order_by(col(Initiative.id))
    )
    return [
        (
            team,
            i.owner_id or "",
            {
                "kind": "initiative",
                "ref_id": i.id or 0,
                "title": i.title,
                "short_id": f"KR-{n}",
                "status": i.status,
            },
        )
        for i, n, team in (await session.exec(query)).all()
    ]
