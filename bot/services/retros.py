"""The retrospective digest of a closed cycle (SPEC §8): for each team with objectives in it,
final progress and score per objective and KR (a score nobody gave marked as suggested), the
retrospective lines, what carried over, and each objective's progress over the cycle.

The close writes one `RetroDelivery` row per (team, recipient) in its own unit of work
(`owe_retrospectives`), so the digest is owed the moment the cycle is closed. `gather_retros`
reads a cycle's frozen rows in one read unit and `compose` turns them, in pure code, into a
`Retro` per team (the cycle's history rolled up once for all); `claim_retro`, `mark_retro`
and `release_retro` move a row through its states, so a digest goes to each recipient once,
whoever sends it and however often.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.progress import Aligned, cycle_bounds, kr_progress, rollup
from bot.services.digests import Recipient
from storage.db import Database
from storage.models import (
    Cycle,
    KeyResult,
    KrUpdate,
    Membership,
    Objective,
    Person,
    RetroDelivery,
    Team,
)

OWED, CLAIMED, SENT, FAILED = "owed", "claimed", "sent", "failed"
# A DM claimed this long ago and never settled was abandoned (its sender died): another sender
# takes it over, and looks in the DM for it before posting it again.
RETRO_LEASE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class RetroKr:
    """A KR as its cycle closed, and the KR it carries on as in the next cycle (if any)."""

    short_id: str
    title: str
    owner_id: str | None
    progress: float
    status: str | None
    score: float | None
    suggested: bool
    note: str | None
    carried_to: str | None


@dataclass(frozen=True)
class Point:
    """An objective's progress at a moment of the cycle (None: nothing to average yet)."""

    at: dt.datetime
    progress: float | None


@dataclass(frozen=True)
class RetroObjective:
    title: str
    progress: float | None
    status: str | None
    score: float | None
    krs: tuple[RetroKr, ...]
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Retro:
    """One team's retrospective digest of a closed cycle, ready for Block Kit and the chart."""

    workspace_id: str
    cycle_id: int
    cycle_name: str
    start: dt.datetime
    end: dt.datetime
    closed_at: dt.datetime
    next_cycle: str | None
    team_id: int
    team_name: str
    objectives: tuple[RetroObjective, ...]

    @property
    def key_results(self) -> tuple[RetroKr, ...]:
        return tuple(kr for objective in self.objectives for kr in objective.krs)


# -- owed at close ---------------------------------------------------------------------------


async def owe_retrospectives(session: AsyncSession, cycle: Cycle, team_ids: Iterable[int]) -> int:
    """In the closing unit of work: a `RetroDelivery` row for each manager of each team with
    objectives in the cycle, and for the team's channel when it has one. How many are owed."""
    teams = sorted(set(team_ids))
    if not teams:
        return 0
    managers = (
        await session.exec(
            select(Membership.team_id, Membership.user_id)
            .where(col(Membership.team_id).in_(teams), Membership.role == Role.MANAGER)
            .distinct()
        )
    ).all()
    channels = (
        await session.exec(select(Team.id, Team.channel_id).where(col(Team.id).in_(teams)))
    ).all()
    owed = [(team_id, user_id, False) for team_id, user_id in sorted(managers)]
    owed += [(team_id, channel, True) for team_id, channel in channels if channel]
    for team_id, recipient, is_channel in owed:
        session.add(
            RetroDelivery(
                workspace_id=cycle.workspace_id,
                cycle_id=cycle.id or 0,
                team_id=team_id or 0,
                recipient=recipient,
                is_channel=is_channel,
            )
        )
    return len(owed)


# -- who is owed what ------------------------------------------------------------------------


@dataclass(frozen=True)
class Owed:
    """A retrospective digest still to send: its row, and to whom (with their language).
    `abandoned_at` is set for a DM whose sender died: when it was claimed, the earliest its
    message may already have reached Slack."""

    delivery_id: int
    cycle_id: int
    team_id: int
    recipient: Recipient
    abandoned_at: dt.datetime | None = None


async def owed_retros(*, database: Database, now: dt.datetime) -> list[Owed]:
    """Every delivery still owed, and every DM claimed and abandoned (not settled within
    RETRO_LEASE), by cycle, team and row (managers before the channel). A channel's claim is
    never taken over: okrbot cannot read a channel's history to see whether it went."""
    person = (Person.workspace_id == RetroDelivery.workspace_id) & (
        Person.user_id == RetroDelivery.recipient
    )
    abandoned = (
        (col(RetroDelivery.state) == CLAIMED)
        & col(RetroDelivery.is_channel).is_(False)
        & (col(RetroDelivery.claimed_at) < now - RETRO_LEASE)
    )
    query = (
        select(RetroDelivery, Person.locale)
        .outerjoin(Person, person)
        .where((col(RetroDelivery.state) == OWED) | abandoned)
        .order_by(col(RetroDelivery.cycle_id), col(RetroDelivery.team_id), col(RetroDelivery.id))
    )
    async with database.read() as session:
        rows = (await session.exec(query)).all()
    return [
        Owed(
            row.id or 0,
            row.cycle_id,
            row.team_id,
            Recipient(row.recipient, None if row.is_channel else locale, row.is_channel),
            _aware(row.claimed_at) if row.state == CLAIMED and row.claimed_at else None,
        )
        for row, locale in rows
    ]


async def claim_retro(*, database: Database, owed: Owed, now: dt.datetime) -> bool:
    """Take an owed delivery (or an abandoned one) for this sender: False when another run
    took it first. The conditional update is the claim."""
    taking = col(RetroDelivery.id) == owed.delivery_id
    if owed.abandoned_at is None:
        free = col(RetroDelivery.state) == OWED
    else:  # still as abandoned: nobody took it over meanwhile
        free = (col(RetroDelivery.state) == CLAIMED) & (
            col(RetroDelivery.claimed_at) == owed.abandoned_at
        )

    async def work(session: AsyncSession) -> bool:
        taken = await session.exec(  # type: ignore[call-overload]
            update(RetroDelivery).where(taking, free).values(state=CLAIMED, claimed_at=now)
        )
        return bool(taken.rowcount == 1)

    return await database.transact(work)


async def mark_retro(
    *,
    database: Database,
    delivery_id: int,
    now: dt.datetime,
    ts: str | None = None,
    error: str | None = None,
) -> None:
    """Settle a claimed delivery: `sent` (with its message), or `failed` for good (`error`)."""
    async with database.session() as session:
        row = await session.get(RetroDelivery, delivery_id)
        if row is None:
            return
        if error is None:
            row.state, row.sent_at, row.message_ts = SENT, now, ts
        else:
            row.state, row.error = FAILED, error[:200]
        session.add(row)


async def release_retro(*, database: Database, delivery_id: int, error: str) -> None:
    """Give a claimed delivery back after a passing Slack error: owed again, for a later run."""
    async with database.session() as session:
        row = await session.get(RetroDelivery, delivery_id)
        if row is not None and row.state == CLAIMED:
            row.state, row.claimed_at, row.error = OWED, None, error[:200]
            session.add(row)


# -- gathering (one read unit) ---------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """The rows a cycle's retrospectives are made of: the cycle and the teams they are for,
    the cycle that follows, every objective and KR of the cycle (the roll-up needs the whole
    tree), the KRs carried from them, and the KRs' history."""

    cycle: Cycle
    teams: Sequence[Team]
    next_cycle: str | None
    objectives: Sequence[Objective]
    krs: Sequence[KeyResult]
    carried: Sequence[Row[Any]]
    updates: Sequence[Row[Any]]


async def gather_retros(
    *, database: Database, cycle_id: int, team_ids: Iterable[int]
) -> list[Retro]:
    """These teams' retrospectives of a closed cycle (none when it is not closed; a team gone
    has none), from one read of the cycle: its history is rolled up once for all of them."""
    async with database.read() as session:
        loaded = await _load(session, cycle_id, sorted(set(team_ids)))
    return [] if loaded is None else compose(loaded)


async def _load(session: AsyncSession, cycle_id: int, team_ids: list[int]) -> _Loaded | None:
    cycle = await session.get(Cycle, cycle_id)
    if cycle is None or cycle.closed_at is None:
        return None
    teams = (await session.exec(select(Team).where(col(Team.id).in_(team_ids)))).all()
    following = select(Cycle.name).where(
        Cycle.workspace_id == cycle.workspace_id, col(Cycle.start) > cycle.end
    )
    next_cycle = (await session.exec(following.order_by(col(Cycle.start)))).first()
    objectives = (
        await session.exec(
            select(Objective)
            .where(Objective.cycle_id == cycle_id)
            .order_by(col(Objective.position), col(Objective.id))
        )
    ).all()
    in_cycle = select(Objective.id).where(Objective.cycle_id == cycle_id)
    krs = (
        await session.exec(
            select(KeyResult)
            .where(col(KeyResult.objective_id).in_(in_cycle))
            .order_by(col(KeyResult.position), col(KeyResult.number))
        )
    ).all()
    kr_ids = select(KeyResult.id).where(col(KeyResult.objective_id).in_(in_cycle))
    carried = (
        await session.exec(
            select(KeyResult.carried_from_id, KeyResult.number).where(
                col(KeyResult.carried_from_id).in_(kr_ids)
            )
        )
    ).all()
    updates = (
        await session.exec(
            select(KrUpdate.kr_id, KrUpdate.old_value, KrUpdate.new_value, KrUpdate.created_at)
            .where(col(KrUpdate.kr_id).in_(kr_ids), col(KrUpdate.reverted).is_(False))
            .where(col(KrUpdate.new_value).is_not(None))
            .order_by(col(KrUpdate.created_at), col(KrUpdate.id))
        )
    ).all()
    return _Loaded(cycle, teams, next_cycle, objectives, krs, carried, updates)


# -- composing (pure) ------------------------------------------------------------------------


def compose(loaded: _Loaded) -> list[Retro]:
    """Each team's objectives as they closed, with their KRs and their progress over time."""
    cycle = loaded.cycle
    begin, finish = cycle_bounds(cycle.start, cycle.end)
    closed_at = _aware(cycle.closed_at or finish)
    history = progress_over_time(
        loaded.objectives,
        loaded.krs,
        [(u.kr_id, _aware(u.created_at), u.old_value, u.new_value) for u in loaded.updates],
        begin=begin,
        end=min(closed_at, finish),
    )
    carried_to = {row.carried_from_id: f"KR-{row.number}" for row in loaded.carried}
    of: dict[int, list[KeyResult]] = {}
    for kr in loaded.krs:
        of.setdefault(kr.objective_id, []).append(kr)
    objectives = [
        RetroObjective(
            title=o.title,
            progress=o.final_progress,
            status=o.final_status,
            score=o.score,
            krs=tuple(_retro_kr(kr, carried_to.get(kr.id)) for kr in of.get(o.id or 0, ())),
            points=history.get(o.id or 0, ()),
        )
        for o in loaded.objectives
    ]
    return [
        Retro(
            workspace_id=cycle.workspace_id,
            cycle_id=cycle.id or 0,
            cycle_name=cycle.name,
            start=begin,
            end=finish,
            closed_at=closed_at,
            next_cycle=loaded.next_cycle,
            team_id=team.id or 0,
            team_name=team.name,
            objectives=tuple(
                line
                for line, o in zip(objectives, loaded.objectives, strict=True)
                if o.team_id == team.id
            ),
        )
        for team in loaded.teams
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (they were stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _retro_kr(kr: KeyResult, carried_to: str | None) -> RetroKr:
    progress = kr.final_progress
    if progress is None:  # closed before final progress was kept: as it stands
        progress = kr_progress(kr.start, kr.target, kr.current)
    return RetroKr(
        short_id=f"KR-{kr.number}",
        title=kr.title,
        owner_id=kr.owner_id,
        progress=progress,
        status=kr.final_status,
        score=kr.score,
        suggested=kr.score_suggested,
        note=(kr.score_note or "").strip() or None,
        carried_to=carried_to,
    )


def progress_over_time(
    objectives: Sequence[Objective],
    krs: Sequence[KeyResult],
    updates: Sequence[tuple[int, dt.datetime, float | None, float | None]],
    *,
    begin: dt.datetime,
    end: dt.datetime,
) -> dict[int, tuple[Point, ...]]:
    """Each objective's progress at the cycle's start, after each day its KRs' history changed
    (at that day's last change; changes before the start count at the start, after `end` at
    `end`), and at `end` as it closed: the roll-up of the KRs' values then (SPEC §8, weights and
    `progress_from` alike). `updates` are (KR id, when, old value, new value), oldest first.

    A point a day, not one per update: a quarter has at most 93 of them, and each costs one
    roll-up of the whole cycle, however many updates the day had. A KR's value before its first
    update is that update's old value; a KR never updated kept its value all along."""
    values = {kr.id or 0: kr.current for kr in krs}
    for kr_id, _, old, _ in reversed(updates):
        if old is not None:
            values[kr_id] = old  # the oldest update's old value wins: walked newest first
    days: dict[dt.date, tuple[dt.datetime, list[tuple[int, float]]]] = {}
    for kr_id, at, _, new in updates:
        if new is None or kr_id not in values:
            continue
        moment = min(max(at, begin), end)
        latest, changes = days.get(moment.date(), (moment, []))
        changes.append((kr_id, new))
        days[moment.date()] = (max(latest, moment), changes)
    moments: dict[dt.datetime, list[tuple[int, float]]] = {begin: []}
    for latest, changes in days.values():
        moments.setdefault(latest, []).extend(changes)
    moments.setdefault(end, [])
    points: dict[int, list[Point]] = {o.id or 0: [] for o in objectives}
    of: dict[int, list[KeyResult]] = {}
    for kr in krs:
        of.setdefault(kr.objective_id, []).append(kr)
    for at in sorted(moments):
        values.update(moments[at])
        for objective_id, progress in _rolled(objectives, of, values).items():
            points[objective_id].append(Point(at, progress))
    return {objective_id: tuple(found) for objective_id, found in points.items()}


def _rolled(
    objectives: Sequence[Objective], of: dict[int, list[KeyResult]], values: dict[int, float]
) -> dict[int, float | None]:
    """The cycle's roll-up with each KR (`of`: by objective id) at `values`."""
    tree = [
        Aligned(
            o.id or 0,
            o.parent_id,
            o.weight,
            o.progress_from,
            tuple(
                (kr_progress(kr.start, kr.target, values[kr.id or 0]), kr.weight)
                for kr in of.get(o.id or 0, ())
            ),
        )
        for o in objectives
    ]
    return rollup(tree)
