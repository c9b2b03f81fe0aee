"""Values pushed over the HTTP API (SPEC §9), applied through the one write path of
`bot/services/updates.py`: the same history rows (source `api:NAME`), linked KRs moving with
their KPI, and the changes returned for KPI alerts, exactly as a `/kpi log` or `/okr update`.

A token with a write scope acts for its workspace, not for one person: the scope is the
permission, so the owner and manager checks of a Slack change do not apply.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidField, NotFound
from bot.i18n import N_
from bot.services import kpis, okrs, updates
from bot.services.tokens import TokenHolder
from bot.services.updates import Actor, Change
from storage.db import Database, write_deferred
from storage.models import KeyResult, Kpi, KpiMeasurement

MONTHLY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
WEEKLY = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


@dataclass(frozen=True)
class Measured:
    """A KPI value stored: `replaced` when its period already had one."""

    kpi: Kpi
    period: str
    value: float
    replaced: bool
    changes: tuple[Change, ...]


def actor_of(holder: TokenHolder) -> Actor:
    return Actor(holder.workspace_id, None, holder.source, authorized=True)


async def find_kpi(*, database: Database, workspace_id: str, ref: str) -> Kpi:
    """A KPI by id (`12`) or by name, alias or words of its name."""
    if okrs.is_row_id(ref):
        async with database.read() as session:
            kpi = await session.get(Kpi, int(ref))
        if kpi is None or kpi.workspace_id != workspace_id:
            raise NotFound(what=f"KPI {ref}")
        return kpi
    return await kpis.find_kpi(database=database, workspace_id=workspace_id, ref=ref)


async def find_kr(*, database: Database, workspace_id: str, ref: str) -> KeyResult:
    """A KR by short id (`KR-7`) or alias."""
    return await okrs.find_kr(database=database, workspace_id=workspace_id, ref=ref, user_id="")


def check_period(kpi: Kpi, period: str) -> None:
    """A monthly KPI takes `2026-11`, a weekly one `2026-W47`."""
    weekly = kpi.period == "weekly"
    if not (WEEKLY if weekly else MONTHLY).match(period):
        raise InvalidField(
            "period",
            N_("{kpi} is measured {period}: write the period like {example}."),
            kpi=kpi.name,
            period=kpi.period,
            example="2026-W47" if weekly else "2026-11",
        )


async def apply_measurement(
    session: AsyncSession,
    *,
    actor: Actor,
    kpi: Kpi,
    value: float,
    period: str | None,
    note: str | None,
    now: dt.datetime,
) -> Measured:
    """Store a KPI value in the caller's unit of work; linked KRs move with it. `actor` is an
    API token's (`actor_of`) or a pull source's (`bot/services/sources.py`)."""
    period = period or updates.period_of(now.date(), kpi.period)
    check_period(kpi, period)
    await write_deferred(session, KpiMeasurement)  # an earlier value in the same unit counts
    existing = select(KpiMeasurement.id).where(
        KpiMeasurement.kpi_id == kpi.id,
        KpiMeasurement.period == period,
        col(KpiMeasurement.reverted).is_(False),
    )
    replaced = (await session.exec(existing.limit(1))).first() is not None
    changes = await updates.apply_kpi_log(
        session,
        actor=actor,
        kpi_id=kpi.id or 0,
        value=value,
        period=period,
        note=note,
        now=now,
    )
    changes = await updates.with_alerts(session, actor.workspace_id, changes)
    return Measured(kpi, period, value, replaced, tuple(changes))


async def apply_kr_update(
    session: AsyncSession,
    *,
    holder: TokenHolder,
    kr: KeyResult,
    value: float | None,
    confidence: int | None,
    status: str | None,
    note: str | None,
    now: dt.datetime,
) -> Change:
    """Record a KR update in the caller's unit of work."""
    return await updates.apply_kr_update(
        session,
        actor=actor_of(holder),
        kr_id=kr.id or 0,
        value=value,
        confidence=confidence,
        status=status,
        note=note,
        now=now,
    )
