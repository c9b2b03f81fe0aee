"""Every change to a key result, KPI or initiative goes through here: permission, history row,
the mirrored current value, and KPI-linked KRs moving with their KPI (SPEC §1, §5).

Only a KR's owner, its objective's owner and the team's managers may change a KR; a KPI may be
logged by its owner and the team's managers; an initiative by its owner, its KR's owner and the
managers. Everything is kept with author and source, so nothing is beyond undo.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commandtext import ValueText
from bot.domain import Role, Source
from bot.errors import Closed, NotAllowed, NotFound, OkrbotError
from bot.i18n import N_
from bot.progress import KpiStatus, KrStatus, expected_progress, kpi_status, kr_progress, kr_status
from bot.services.alerts import KpiAlert, claim_in
from bot.services.kpis import latest_kpi_values
from bot.services.okrs import find_kr_in
from bot.services.webhooks import any_webhook, note_webhooks, record_event, wanted
from storage.db import Database, in_session, insert_later, keep, update_later, write_deferred
from storage.models import (
    Cycle,
    Initiative,
    InitiativeUpdate,
    KeyResult,
    Kpi,
    KpiMeasurement,
    KrUpdate,
    Membership,
    Objective,
    ReplyMessage,
    utcnow,
)

Kind = Literal["kr", "kpi", "initiative"]


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and from where.

    `authorized` says the edge has already allowed the change: an API token with the write
    scope acts for the workspace (`user_id` None, source `api:NAME`), not for one person."""

    workspace_id: str
    user_id: str | None
    source: Source | str
    authorized: bool = False


@dataclass(frozen=True)
class Origin:
    """The check-in round and DM reply a change came from, when it came from one."""

    round_id: int | None = None
    reply_id: int | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class Change:
    """What one change did, for confirmations: old → new, progress and status."""

    kind: Kind
    item_id: int
    label: str
    unit: str
    old: float | str | None
    new: float | str | None
    progress: float | None = None
    status: KrStatus | KpiStatus | None = None
    via_kpi: str | None = None
    alert: KpiAlert | None = dataclasses.field(default=None, compare=False, repr=False)


async def with_alerts(
    session: AsyncSession, workspace_id: str, changes: list[Change]
) -> list[Change]:
    """The changes, a KPI's first one carrying the alert this unit of work won for it.

    Every unit that logs or reverts KPI values ends with this, so that the claim commits with
    the change; `notify.announce_kpi_changes` posts what the changes carry after the commit."""
    previous: dict[int, float | None] = {}
    for change in changes:
        if change.kind == "kpi":
            previous.setdefault(change.item_id, _number(change.old))
    won = await claim_in(session, workspace_id, previous)
    return [
        dataclasses.replace(change, alert=won.pop(change.item_id))
        if change.kind == "kpi" and change.item_id in won
        else change
        for change in changes
    ]


def _number(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _provenance(actor: Actor, origin: Origin) -> dict[str, Any]:
    """Who made a change, from where, and the check-in it came from: every history row says."""
    return {
        "author_id": actor.user_id,
        "source": actor.source,
        "round_id": origin.round_id,
        "reply_id": origin.reply_id,
        "message_ts": origin.message_ts,
    }


def period_of(day: dt.date, period: str) -> str:
    """The period a day falls in: `2026-11` (monthly) or `2026-W47` (weekly, ISO)."""
    if period == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02}"
    return f"{day.year}-{day.month:02}"


# Prebuilt: asked on every change someone makes to another person's item.
_MANAGER = select(Membership.id).where(
    Membership.team_id == bindparam("team_id"),
    Membership.user_id == bindparam("user_id"),
    Membership.role == Role.MANAGER,
)


async def _is_manager(session: AsyncSession, team_id: int, user_id: str) -> bool:
    params = {"team_id": team_id, "user_id": user_id}
    return (await session.exec(_MANAGER, params=params)).first() is not None  # type: ignore[call-overload]


# One round trip for KRs, their objectives and the objectives' cycles: a write unit holds
# SQLite's only writer slot.
_KR_CONTEXT = (
    select(KeyResult, Objective, Cycle, any_webhook(KeyResult.workspace_id))
    .join(Objective, col(Objective.id) == KeyResult.objective_id)
    .join(Cycle, col(Cycle.id) == Objective.cycle_id)
)


async def _kr_contexts(
    session: AsyncSession, query: Any
) -> list[tuple[KeyResult, Objective, Cycle]]:
    """Rows of `_KR_CONTEXT` (narrowed by `query`), kept in the unit's session, and whether
    their workspace has webhooks noted (`webhooks.note_webhooks`)."""
    found = []
    for kr, objective, cycle, webhooks in (await session.exec(query)).all():
        keep(session, (kr, objective, cycle))
        note_webhooks(session, kr.workspace_id, webhooks)
        found.append((kr, objective, cycle))
    return found


async def preload_krs(session: AsyncSession, kr_ids: Iterable[int]) -> None:
    """Load these KRs with their objectives and cycles in one statement, for a unit of work
    that changes several (a check-in reply): one round trip instead of one per KR."""
    await _kr_contexts(session, _KR_CONTEXT.where(col(KeyResult.id).in_(list(kr_ids))))


# What `preload_kpis` read ahead for the unit: each KPI's latest value (taken once: a log
# changes it) and the open KRs linked to it.
_LATEST = "okrbot_latest_kpi_values"
_LINKED = "okrbot_linked_krs"


async def preload_kpis(session: AsyncSession, kpi_ids: Iterable[int]) -> None:
    """Load these KPIs, their latest values and their linked KRs in three statements, for a
    unit of work that logs several (a burst of check-in replies)."""
    ids = sorted(set(kpi_ids))
    if not ids:
        return
    keep(session, (await session.exec(select(Kpi).where(col(Kpi.id).in_(ids)))).all())
    latest = await latest_kpi_values(session, ids)
    session.info[_LATEST] = {kpi_id: latest.get(kpi_id) for kpi_id in ids}
    linked: dict[int, list[tuple[KeyResult, Objective, Cycle]]] = {kpi_id: [] for kpi_id in ids}
    query = _KR_CONTEXT.where(col(KeyResult.kpi_id).in_(ids), col(KeyResult.closed_at).is_(None))
    for kr, objective, cycle in await _kr_contexts(session, query.order_by(col(KeyResult.id))):
        linked[kr.kpi_id or 0].append((kr, objective, cycle))
    session.info[_LINKED] = linked


async def _kr_context(
    session: AsyncSession, workspace_id: str, kr_id: int
) -> tuple[KeyResult, Objective, Cycle]:
    """A KR, its objective and its cycle: from the unit's session when an earlier statement
    loaded them (`preload_krs`, `okrs.find_kr_in`), else in one statement."""
    kr = in_session(session, KeyResult, kr_id)
    objective = in_session(session, Objective, kr.objective_id) if kr else None
    cycle = in_session(session, Cycle, objective.cycle_id) if objective else None
    if kr is None or objective is None or cycle is None:
        rows = await _kr_contexts(session, _KR_CONTEXT.where(KeyResult.id == kr_id))
        kr, objective, cycle = rows[0] if rows else (None, None, None)
    if kr is None or objective is None or cycle is None or kr.workspace_id != workspace_id:
        raise NotFound(what=f"KR #{kr_id}")
    return kr, objective, cycle


async def refuse_if_closed(session: AsyncSession, kr: KeyResult, objective: Objective) -> None:
    """A KR of a closed cycle takes no more updates: say which cycle, and where its work went
    on when it was carried over. Costs nothing for an open KR (the mark is on the row)."""
    if kr.closed_at is None:
        return
    cycle = await session.get(Cycle, objective.cycle_id)
    carried = (
        await session.exec(select(KeyResult.number).where(KeyResult.carried_from_id == kr.id))
    ).first()
    params = {"kr": f"KR-{kr.number}", "cycle": cycle.name if cycle else "?"}
    if carried is None:
        raise Closed(**params)
    raise Closed(
        N_("{kr} is closed with cycle {cycle}; it carries on as {carried}: update that one."),
        carried=f"KR-{carried}",
        **params,
    )


async def _check_kr(
    session: AsyncSession, kr: KeyResult, objective: Objective, user_id: str
) -> None:
    if user_id in (kr.owner_id, objective.owner_id):
        return
    if not await _is_manager(session, objective.team_id, user_id):
        raise NotAllowed(
            N_(
                "Only the owner of {kr}, the owner of its objective and the team's managers "
                "can change it."
            ),
            kr=f"KR-{kr.number}",
        )


async def kr_for_change(
    session: AsyncSession, actor: Actor, kr_id: int
) -> tuple[KeyResult, Objective, Cycle]:
    """A KR, its objective and cycle, once it is known the actor may change it now: not
    closed, and theirs to change (owner, objective owner, manager, or an authorized edge)."""
    kr, objective, cycle = await _kr_context(session, actor.workspace_id, kr_id)
    await refuse_if_closed(session, kr, objective)
    if not actor.authorized:
        await _check_kr(session, kr, objective, actor.user_id or "")
    return kr, objective, cycle


def _kr_status(kr: KeyResult, cycle: Cycle, now: dt.datetime) -> tuple[float, KrStatus]:
    """A KR's progress, and its status against where its cycle expects it to be by now."""
    expected = _expected(cycle.start, cycle.end, now)
    progress = kr_progress(kr.start, kr.target, kr.current)
    return progress, kr_status(progress, expected, confidence=kr.confidence, explicit=kr.status)


# A reply's KRs share a cycle and a moment: where the cycle expects them is worked out once.
_expected = functools.lru_cache(maxsize=64)(expected_progress)


async def _apply_kr(
    session: AsyncSession,
    kr: KeyResult,
    actor: Actor,
    origin: Origin,
    *,
    value: float | None,
    confidence: int | None = None,
    status: str | None = None,
    note: str | None = None,
) -> None:
    """Write one KR history row and mirror the latest values on the KR."""
    old = kr.current
    insert_later(  # a reply's history rows in one statement
        session,
        KrUpdate,
        workspace_id=kr.workspace_id,
        kr_id=kr.id or 0,
        old_value=old,
        new_value=old if value is None else value,
        confidence=confidence,
        status=status,
        note=note,
        **_provenance(actor, origin),
    )
    # An explicit status holds until the owner's next check-in says otherwise.
    update_later(
        session,
        kr,
        current=old if value is None else value,
        confidence=kr.confidence if confidence is None else confidence,
        status=status,
        updated_at=utcnow(),
    )
    await _kr_updated(session, kr, old, actor.user_id, actor.source, note)


async def _kr_updated(
    session: AsyncSession,
    kr: KeyResult,
    old_value: float | None,
    author: str | None,
    source: str,
    note: str | None = None,
) -> None:
    """The `kr.updated` webhook event, queued in the change's own unit of work (made only
    when a webhook wants it: a burst of replies updates thousands of KRs)."""
    if not await wanted(session, kr.workspace_id, "kr.updated"):
        return
    data = {
        "kr": f"KR-{kr.number}",
        "title": kr.title,
        "old_value": old_value,
        "new_value": kr.current,
        "target": kr.target,
        "unit": kr.unit,
        "confidence": kr.confidence,
        "status": kr.status,
        "note": note,
        "author": author,
        "source": str(source),
    }
    await record_event(session, workspace_id=kr.workspace_id, event="kr.updated", data=data)


async def update_kr(
    *,
    database: Database,
    actor: Actor,
    kr_id: int,
    value: float | None,
    confidence: int | None = None,
    status: str | None = None,
    note: str | None = None,
    origin: Origin = Origin(),
    now: dt.datetime | None = None,
) -> Change:
    """Record a new value (and/or confidence, status, note) for a KR the actor may change.

    The unit reads the current cycle itself: a read unit of its own would cost more than the
    moment its one statement adds to the writer's turn."""

    async def work(session: AsyncSession) -> Change:
        return await apply_kr_update(
            session,
            actor=actor,
            kr_id=kr_id,
            value=value,
            confidence=confidence,
            status=status,
            note=note,
            origin=origin,
            now=now,
        )

    return await database.transact(work)


@dataclass(frozen=True)
class NamedUpdate:
    """One `/okr update`: who asks, the KR they name (see `okrs.find_kr`), and how to read the
    command's words for that KR (raising when they hold no value)."""

    actor: Actor
    ref: str
    read: Callable[[KeyResult], ValueText]


async def update_named_krs(
    *, database: Database, requests: Sequence[NamedUpdate], now: dt.datetime | None = None
) -> list[Change | OkrbotError]:
    """`update_named_kr` for a burst of commands, in one write unit: each answered with its
    change, or with why it was refused (no such KR, no value in the words, not theirs to
    change, closed). A refusal comes before anything of its own is written, so the others in
    the unit still count."""

    async def work(session: AsyncSession) -> list[Change | OkrbotError]:
        done: list[Change | OkrbotError] = []
        for request in requests:
            actor = request.actor
            try:
                kr = await find_kr_in(session, actor.workspace_id, request.ref, actor.user_id)
                said = request.read(kr)
                change = await apply_kr_update(
                    session,
                    actor=actor,
                    kr_id=kr.id or 0,
                    value=said.value,
                    note=said.rest or None,
                    now=now,
                )
            except OkrbotError as refused:
                done.append(refused)
            else:
                done.append(change)
        return done

    return await database.transact(work)


async def apply_kr_update(
    session: AsyncSession,
    *,
    actor: Actor,
    kr_id: int,
    value: float | None,
    confidence: int | None = None,
    status: str | None = None,
    note: str | None = None,
    origin: Origin = Origin(),
    now: dt.datetime | None = None,
) -> Change:
    """`update_kr` inside the caller's unit of work (a check-in reply applies several at once).

    Permission is checked before anything is written, so a refusal leaves the session clean."""
    now = now or utcnow()
    kr, _, cycle = await kr_for_change(session, actor, kr_id)
    old = kr.current
    await _apply_kr(
        session, kr, actor, origin, value=value, confidence=confidence, status=status, note=note
    )
    progress, shown = _kr_status(kr, cycle, now)
    return Change(
        "kr", kr_id, f"KR-{kr.number} {kr.title}", kr.unit, old, kr.current, progress, shown
    )


async def log_kpi(
    *,
    database: Database,
    actor: Actor,
    kpi_id: int,
    value: float,
    period: str | None = None,
    note: str | None = None,
    origin: Origin = Origin(),
    now: dt.datetime | None = None,
) -> list[Change]:
    """Record a KPI value for a period (default: the current one); linked KRs move with it."""

    async def log(session: AsyncSession) -> list[Change]:
        changes = await apply_kpi_log(
            session,
            actor=actor,
            kpi_id=kpi_id,
            value=value,
            period=period,
            note=note,
            origin=origin,
            now=now,
        )
        return await with_alerts(session, actor.workspace_id, changes)

    return await database.transact(log)


async def apply_kpi_log(
    session: AsyncSession,
    *,
    actor: Actor,
    kpi_id: int,
    value: float,
    period: str | None = None,
    note: str | None = None,
    origin: Origin = Origin(),
    now: dt.datetime | None = None,
) -> list[Change]:
    """`log_kpi` inside the caller's unit of work; a refusal writes nothing."""
    now = now or utcnow()
    kpi = await session.get(Kpi, kpi_id)
    if kpi is None or kpi.workspace_id != actor.workspace_id:
        raise NotFound(what=f"KPI #{kpi_id}")
    keep(session, [kpi])  # the unit's alert claim reads it again (`with_alerts`)
    if not actor.authorized and not await _may_log(session, kpi, actor.user_id or ""):
        raise NotAllowed(
            N_("Only the owner of {kpi} and the team's managers can log it."), kpi=kpi.name
        )
    period = period or period_of(now.date(), kpi.period)
    old = await _latest_value(session, kpi_id)
    insert_later(  # read back only by the unit's alert claim (`with_alerts`), which inserts it
        session,
        KpiMeasurement,
        workspace_id=kpi.workspace_id,
        kpi_id=kpi_id,
        period=period,
        value=value,
        note=note,
        **_provenance(actor, origin),
    )
    status = kpi_status(value, target=kpi.target, warn=kpi.warn, direction=kpi.direction)
    changes = [Change("kpi", kpi_id, kpi.name, kpi.unit, old, value, None, status)]
    changes += await _move_linked_krs(session, kpi, value, actor, origin, now)
    return changes


async def _may_log(session: AsyncSession, kpi: Kpi, user_id: str) -> bool:
    return user_id == kpi.owner_id or await _is_manager(session, kpi.team_id, user_id)


async def _latest_value(session: AsyncSession, kpi_id: int) -> float | None:
    preloaded = session.info.get(_LATEST, {})
    if kpi_id in preloaded:
        return preloaded.pop(kpi_id)  # good once: the log about to be written changes it
    await write_deferred(session, KpiMeasurement)
    return (await latest_kpi_values(session, [kpi_id])).get(kpi_id)


async def _move_linked_krs(
    session: AsyncSession, kpi: Kpi, value: float, actor: Actor, origin: Origin, now: dt.datetime
) -> list[Change]:
    """KRs linked to the KPI take its new value; their history says it came from the KPI."""
    # A closed KR keeps its final value; the KR carried over from it follows the KPI instead.
    rows = session.info.get(_LINKED, {}).get(kpi.id)
    if rows is None:
        query = _KR_CONTEXT.where(KeyResult.kpi_id == kpi.id, col(KeyResult.closed_at).is_(None))
        rows = await _kr_contexts(session, query.order_by(col(KeyResult.id)))
    linked = Actor(actor.workspace_id, actor.user_id, Source.KPI, actor.authorized)
    changes = []
    for kr, _, cycle in rows:
        old = kr.current
        await _apply_kr(session, kr, linked, origin, value=value, status=kr.status)
        progress, shown = _kr_status(kr, cycle, now)
        label = f"KR-{kr.number} {kr.title}"
        changes.append(
            Change("kr", kr.id or 0, label, kr.unit, old, value, progress, shown, kpi.name)
        )
    return changes


async def set_initiative_status(
    *,
    database: Database,
    actor: Actor,
    initiative_id: int,
    status: str,
    note: str | None = None,
    origin: Origin = Origin(),
) -> Change:
    """Move an initiative (planned, in progress, done, dropped)."""
    return await database.transact(
        lambda session: apply_initiative_status(
            session,
            actor=actor,
            initiative_id=initiative_id,
            status=status,
            note=note,
            origin=origin,
        )
    )


async def apply_initiative_status(
    session: AsyncSession,
    *,
    actor: Actor,
    initiative_id: int,
    status: str,
    note: str | None = None,
    origin: Origin = Origin(),
) -> Change:
    """`set_initiative_status` inside the caller's unit of work; a refusal writes nothing."""
    initiative = await session.get(Initiative, initiative_id)
    if initiative is None or initiative.workspace_id != actor.workspace_id:
        raise NotFound(what=f"initiative #{initiative_id}")
    kr, objective, _ = await _kr_context(session, actor.workspace_id, initiative.kr_id)
    await refuse_if_closed(session, kr, objective)
    if not actor.authorized and actor.user_id != initiative.owner_id:
        await _check_kr(session, kr, objective, actor.user_id or "")
    old = initiative.status
    session.add(
        InitiativeUpdate(
            workspace_id=initiative.workspace_id,
            initiative_id=initiative_id,
            old_status=old,
            new_status=status,
            note=note,
            **_provenance(actor, origin),
        )
    )
    initiative.status = status
    session.add(initiative)
    return Change("initiative", initiative_id, initiative.title, "", old, status)


async def undo_reply(*, database: Database, actor: Actor, reply_id: int) -> list[Change]:
    """Revert exactly what one DM reply recorded (its KR, KPI and initiative changes).

    Only the person who wrote the reply may undo it; undoing twice changes nothing."""

    async def undo(session: AsyncSession) -> list[Change]:
        reply = await session.get(ReplyMessage, reply_id)
        if reply is None or reply.workspace_id != actor.workspace_id:
            raise NotFound(what=f"reply #{reply_id}")
        if reply.user_id != actor.user_id:
            raise NotAllowed(N_("Only the person who wrote a check-in reply can undo it."))
        reply.undone_at = reply.undone_at or utcnow()
        session.add(reply)
        return await with_alerts(session, actor.workspace_id, await revert_reply(session, reply_id))

    return await database.transact(undo)


async def revert_reply(session: AsyncSession, reply_id: int) -> list[Change]:
    """Revert what one reply recorded, without a permission check: for *Undo* once allowed,
    and for an edited reply, whose old reading is replaced by the new one."""
    changes = await _undo_krs(session, reply_id)
    changes += await _undo_kpis(session, reply_id)
    changes += await _undo_initiatives(session, reply_id)
    return changes


async def _undo_krs(session: AsyncSession, reply_id: int) -> list[Change]:
    """Put each KR back to its value before the reply's first change to it."""
    query = (
        select(KrUpdate)
        .where(KrUpdate.reply_id == reply_id, col(KrUpdate.reverted).is_(False))
        .order_by(col(KrUpdate.id))
    )
    rows = (await session.exec(query)).all()
    first: dict[int, KrUpdate] = {}
    for row in rows:
        first.setdefault(row.kr_id, row)
        row.reverted = True
        session.add(row)
    changes = []
    for kr_id, row in first.items():
        kr = await session.get(KeyResult, kr_id)
        if kr is None:
            continue
        if kr.closed_at is not None:  # its final value is frozen: undo and edits say why
            objective = await session.get(Objective, kr.objective_id)
            assert objective is not None  # guaranteed by the foreign key
            await refuse_if_closed(session, kr, objective)
        before = kr.current
        kr.current = row.old_value if row.old_value is not None else kr.current
        kr.confidence, kr.status = await _previous_marks(session, kr_id)
        session.add(kr)
        await _kr_updated(session, kr, before, row.author_id, Source.UNDO)
        changes.append(
            Change("kr", kr_id, f"KR-{kr.number} {kr.title}", kr.unit, before, kr.current)
        )
    return changes


async def _previous_marks(session: AsyncSession, kr_id: int) -> tuple[int | None, str | None]:
    """Confidence and status of the latest update still standing."""
    query = (
        select(KrUpdate)
        .where(KrUpdate.kr_id == kr_id, col(KrUpdate.reverted).is_(False))
        .order_by(col(KrUpdate.id).desc())
    )
    latest = (await session.exec(query)).first()
    return (latest.confidence, latest.status) if latest else (None, None)


async def _undo_kpis(session: AsyncSession, reply_id: int) -> list[Change]:
    query = select(KpiMeasurement).where(
        KpiMeasurement.reply_id == reply_id, col(KpiMeasurement.reverted).is_(False)
    )
    changes = []
    for row in (await session.exec(query)).all():
        row.reverted = True
        session.add(row)
        kpi = await session.get(Kpi, row.kpi_id)
        changes.append(Change("kpi", row.kpi_id, kpi.name if kpi else "", "", row.value, None))
    return changes


async def _undo_initiatives(session: AsyncSession, reply_id: int) -> list[Change]:
    query = (
        select(InitiativeUpdate)
        .where(InitiativeUpdate.reply_id == reply_id, col(InitiativeUpdate.reverted).is_(False))
        .order_by(col(InitiativeUpdate.id).desc())
    )
    changes = []
    for row in (await session.exec(query)).all():
        row.reverted = True
        session.add(row)
        initiative = await session.get(Initiative, row.initiative_id)
        if initiative is not None:
            initiative.status = row.old_status
            session.add(initiative)
            changes.append(
                Change(
                    "initiative",
                    row.initiative_id,
                    initiative.title,
                    "",
                    row.new_status,
                    row.old_status,
                )
            )
    return changes
