"""Closing a cycle (SPEC §8): final progress, statuses and scores frozen on every KR and
objective, and the KRs chosen carried into the next cycle, starting where they ended.

One unit of work does it all, and the cycle's `closed_at` is its claim: a second close (the
command line and a manager's modal at once, or twice the same command) finds it taken and
changes nothing. The same unit owes each team's retrospective digest (`bot.services.retros`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import N_
from bot.progress import (
    Aligned,
    expected_progress,
    is_unfinished,
    kr_progress,
    kr_status,
    objective_status,
    rollup,
    suggested_score,
)
from bot.services.checkins.model import OPEN_INITIATIVES
from bot.services.okrs import current_cycle
from bot.services.retros import owe_retrospectives
from storage.db import Database
from storage.models import Cycle, Initiative, KeyResult, Membership, Objective, utcnow

# `--carry unfinished` (every KR short of its target), `none`, or the KR ids a manager ticked.
Carry = Literal["unfinished", "none"] | Collection[int]


@dataclass(frozen=True)
class ClosedKr:
    """A KR as its cycle closed: frozen progress, status and score, and where it carried on."""

    id: int
    number: int
    title: str
    progress: float
    status: str
    score: float
    suggested: bool
    carried_to: int | None = None

    @property
    def short_id(self) -> str:
        return f"KR-{self.number}"


@dataclass(frozen=True)
class CycleClosed:
    """What closing a cycle did."""

    cycle: str
    next_cycle: str | None
    krs: tuple[ClosedKr, ...]
    objectives: int

    @property
    def carried(self) -> tuple[ClosedKr, ...]:
        return tuple(kr for kr in self.krs if kr.carried_to is not None)


async def close_cycle(
    *,
    database: Database,
    workspace_id: str,
    name: str,
    carry: Carry = "unfinished",
    now: dt.datetime | None = None,
    by: str | None = None,
) -> CycleClosed:
    """`okrbot cycle close NAME [--carry unfinished|none]`, or a manager's `/okr close` (`by`,
    with the KR ids ticked as `carry`): freeze and carry over, all or nothing; a refusal
    (not a manager, unknown, closed already, not started, nowhere to carry) writes nothing."""
    at = now or utcnow()

    async def work(session: AsyncSession) -> CycleClosed:
        if by is not None:
            await _require_manager(session, workspace_id, by)
        return await _close(session, workspace_id, name, carry, at)

    return await database.transact(work)


@dataclass(frozen=True)
class CloseDraft:
    """What the `/okr close` modal offers: the cycle, the one its KRs would carry into, and
    its unfinished KRs (id, `KR-n`, title, progress)."""

    cycle: str
    next_cycle: str | None
    unfinished: tuple[tuple[int, str, str, float], ...]


async def close_draft(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    name: str | None,
    now: dt.datetime,
) -> CloseDraft:
    """The cycle a manager's `/okr close [cycle]` means (the named one, else the current one)
    and its unfinished KRs; refused, as the close itself would be, for a non-manager or a
    cycle closed or not started."""
    async with database.read() as session:
        await _require_manager(session, workspace_id, user_id)
        if name:
            query = select(Cycle).where(Cycle.workspace_id == workspace_id, Cycle.name == name)
            cycle = (await session.exec(query)).first()
        else:
            cycle = await current_cycle(session, workspace_id, now.date())
        if cycle is None:
            raise NotFound(what=f"cycle {name}" if name else "a cycle")
        if cycle.closed_at is not None:
            raise InvalidInput(N_("Cycle {name} is closed already."), name=cycle.name)
        if cycle.start > now.date():
            raise InvalidInput(N_("Cycle {name} has not started yet."), name=cycle.name)
        objectives = select(Objective.id).where(Objective.cycle_id == cycle.id)
        krs = (
            await session.exec(
                select(KeyResult)
                .where(col(KeyResult.objective_id).in_(objectives))
                .order_by(col(KeyResult.number))
            )
        ).all()
        following = (
            await session.exec(
                select(Cycle.name)
                .where(Cycle.workspace_id == workspace_id, col(Cycle.start) > cycle.end)
                .order_by(col(Cycle.start))
            )
        ).first()
    unfinished = []
    for kr in krs:
        progress = kr_progress(kr.start, kr.target, kr.current)
        if is_unfinished(progress):
            unfinished.append((kr.id or 0, f"KR-{kr.number}", kr.title, progress))
    return CloseDraft(cycle.name, following, tuple(unfinished))


async def _require_manager(session: AsyncSession, workspace_id: str, user_id: str) -> None:
    query = select(Membership.id).where(
        Membership.workspace_id == workspace_id,
        Membership.user_id == user_id,
        Membership.role == Role.MANAGER,
    )
    if (await session.exec(query)).first() is None:
        raise NotAllowed(N_("Only a team's manager can close a cycle."))


async def _close(
    session: AsyncSession, workspace_id: str, name: str, carry: Carry, now: dt.datetime
) -> CycleClosed:
    cycle = await _claim(session, workspace_id, name, now)
    objectives = list(
        (await session.exec(select(Objective).where(Objective.cycle_id == cycle.id))).all()
    )
    krs = await _krs_of(session, [o.id or 0 for o in objectives])
    expected = expected_progress(cycle.start, cycle.end, now)
    closed = [_freeze_kr(kr, expected, now) for kr in krs]
    for kr in krs:
        session.add(kr)
    _freeze_objectives(objectives, krs, expected)
    for objective in objectives:
        session.add(objective)
    # Owed in this unit of work: a close that commits always has its digests to send.
    await owe_retrospectives(session, cycle, (o.team_id for o in objectives))
    chosen = _chosen(closed, carry)
    if not chosen:
        return CycleClosed(cycle.name, None, tuple(closed), len(objectives))
    following = await _next_cycle(session, cycle)
    carried = await _carry(session, following, objectives, krs, chosen)
    closed = [
        ClosedKr(**{**kr.__dict__, "carried_to": carried.get(kr.id)}) if kr.id in carried else kr
        for kr in closed
    ]
    return CycleClosed(cycle.name, following.name, tuple(closed), len(objectives))


async def _claim(session: AsyncSession, workspace_id: str, name: str, now: dt.datetime) -> Cycle:
    """The cycle, marked closed by this unit: the conditional update is the claim."""
    query = select(Cycle).where(Cycle.workspace_id == workspace_id, Cycle.name == name.strip())
    cycle = (await session.exec(query)).first()
    if cycle is None:
        raise NotFound(what=f"cycle {name}")
    if cycle.start > now.date():
        raise InvalidInput(N_("Cycle {name} has not started yet."), name=cycle.name)
    claimed = await session.exec(  # type: ignore[call-overload]
        update(Cycle)
        .where(col(Cycle.id) == cycle.id, col(Cycle.closed_at).is_(None))
        .values(closed_at=now)
    )
    if claimed.rowcount != 1:
        raise InvalidInput(N_("Cycle {name} is closed already."), name=cycle.name)
    return cycle


async def _krs_of(session: AsyncSession, objective_ids: list[int]) -> list[KeyResult]:
    query = (
        select(KeyResult)
        .where(col(KeyResult.objective_id).in_(objective_ids))
        .order_by(col(KeyResult.number))
    )
    return list((await session.exec(query)).all())


def _freeze_kr(kr: KeyResult, expected: float, now: dt.datetime) -> ClosedKr:
    """Final progress and status as they stand now; a KR nobody scored keeps its suggested
    score, marked as suggested."""
    progress = kr_progress(kr.start, kr.target, kr.current)
    status = kr_status(progress, expected, confidence=kr.confidence, explicit=kr.status)
    if kr.score is None:
        kr.score, kr.score_suggested = suggested_score(progress), True
    kr.final_progress, kr.final_status, kr.closed_at = progress, status.value, now
    return ClosedKr(
        kr.id or 0, kr.number, kr.title, progress, status.value, kr.score, kr.score_suggested
    )


def _freeze_objectives(
    objectives: Sequence[Objective], krs: Sequence[KeyResult], expected: float
) -> None:
    """Each objective's final progress and status by its roll-up, and its score: its KRs'
    scores rolled up the same way (weights and `progress_from` alike)."""

    def tree(measure: str) -> list[Aligned]:
        return [
            Aligned(
                o.id or 0,
                o.parent_id,
                o.weight,
                o.progress_from,
                tuple((getattr(kr, measure), kr.weight) for kr in krs if kr.objective_id == o.id),
            )
            for o in objectives
        ]

    progress, scores = rollup(tree("final_progress")), rollup(tree("score"))
    for objective in objectives:
        objective.final_progress = progress.get(objective.id or 0)
        status = objective_status(objective.final_progress, expected)
        objective.final_status = status.value if status else None
        objective.score = scores.get(objective.id or 0)


def _chosen(closed: Sequence[ClosedKr], carry: Carry) -> list[int]:
    if carry == "none":
        return []
    if carry == "unfinished":
        return [kr.id for kr in closed if is_unfinished(kr.progress)]
    wanted = set(carry)  # type: ignore[arg-type]
    return [kr.id for kr in closed if kr.id in wanted]


async def _next_cycle(session: AsyncSession, cycle: Cycle) -> Cycle:
    query = (
        select(Cycle)
        .where(Cycle.workspace_id == cycle.workspace_id, col(Cycle.start) > cycle.end)
        .order_by(col(Cycle.start))
    )
    following = (await session.exec(query)).first()
    if following is None:
        raise InvalidInput(
            N_(
                "No cycle follows {name} to carry key results into: start one first "
                "(okrbot cycle start), or carry none."
            ),
            name=cycle.name,
        )
    return following


async def _carry(
    session: AsyncSession,
    following: Cycle,
    objectives: Sequence[Objective],
    krs: Sequence[KeyResult],
    chosen: Sequence[int],
) -> dict[int, int]:
    """New KRs in the next cycle for the chosen ones: same owner, aliases, KPI link, target,
    unit and weight; `start` and `current` where the old one ended; its open initiatives; a link
    back. Each goes under its objective's namesake in the next cycle, made when missing. Returns
    old KR id -> new KR number."""
    by_id = {o.id: o for o in objectives}
    targets = await _objectives_in(session, following)
    number = await _max_number(session, following.workspace_id)
    carried: dict[int, int] = {}
    for kr in krs:
        if kr.id not in chosen:
            continue
        old = by_id[kr.objective_id]
        objective = await _target_objective(session, following, targets, by_id, old)
        new = await _existing_kr(session, objective, kr)
        if new is None:
            number += 1
            new = _carried_kr(kr, objective, number)
            session.add(new)
            await session.flush()
            await _carry_initiatives(session, kr, new)
        elif new.carried_from_id is None:
            new.carried_from_id = kr.id
            session.add(new)
        carried[kr.id or 0] = new.number
    return carried


async def _objectives_in(session: AsyncSession, cycle: Cycle) -> dict[tuple[int, str], Objective]:
    found = (await session.exec(select(Objective).where(Objective.cycle_id == cycle.id))).all()
    return {(o.team_id, o.title): o for o in found}


async def _max_number(session: AsyncSession, workspace_id: str) -> int:
    query = select(func.max(KeyResult.number)).where(KeyResult.workspace_id == workspace_id)
    return int((await session.exec(query)).one() or 0)


async def _target_objective(
    session: AsyncSession,
    following: Cycle,
    targets: dict[tuple[int, str], Objective],
    closing: dict[int | None, Objective],
    old: Objective,
) -> Objective:
    """The next cycle's objective of the same team and title; made when missing, serving the
    namesake of what the old one served, when the next cycle has it."""
    found = targets.get((old.team_id, old.title))
    if found is not None:
        return found
    parent = closing.get(old.parent_id)
    serves = next(
        (o for o in targets.values() if parent is not None and o.title == parent.title), None
    )
    made = Objective(
        workspace_id=old.workspace_id,
        team_id=old.team_id,
        cycle_id=following.id or 0,
        title=old.title,
        owner_id=old.owner_id,
        position=old.position,
        parent_id=serves.id if serves else None,
        weight=old.weight,
        progress_from=old.progress_from,
    )
    session.add(made)
    await session.flush()
    targets[(made.team_id, made.title)] = made
    return made


async def _existing_kr(
    session: AsyncSession, objective: Objective, kr: KeyResult
) -> KeyResult | None:
    """The next cycle's KR of the same title under that objective (already imported)."""
    query = select(KeyResult).where(
        KeyResult.objective_id == objective.id, KeyResult.title == kr.title
    )
    return (await session.exec(query)).first()


def _carried_kr(kr: KeyResult, objective: Objective, number: int) -> KeyResult:
    return KeyResult(
        workspace_id=kr.workspace_id,
        number=number,
        objective_id=objective.id or 0,
        title=kr.title,
        owner_id=kr.owner_id,
        start=kr.current,
        target=kr.target,
        current=kr.current,
        unit=kr.unit,
        weight=kr.weight,
        aliases=list(kr.aliases),
        kpi_id=kr.kpi_id,
        position=kr.position,
        carried_from_id=kr.id,
    )


async def _carry_initiatives(session: AsyncSession, old: KeyResult, new: KeyResult) -> None:
    """Copies of the old KR's open initiatives (the originals stay, with their history)."""
    query = (
        select(Initiative)
        .where(Initiative.kr_id == old.id, col(Initiative.status).in_(OPEN_INITIATIVES))
        .order_by(col(Initiative.position), col(Initiative.id))
    )
    for initiative in (await session.exec(query)).all():
        session.add(
            Initiative(
                workspace_id=initiative.workspace_id,
                kr_id=new.id or 0,
                title=initiative.title,
                owner_id=initiative.owner_id,
                status=initiative.status,
                position=initiative.position,
            )
        )
