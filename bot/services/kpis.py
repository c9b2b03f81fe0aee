"""Reading KPIs for people: latest value, status against target, and recent trend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotFound
from bot.i18n import N_
from bot.progress import KpiStatus, Trend, kpi_status, trend
from storage.db import Database
from storage.models import Kpi, KpiMeasurement, Team

SERIES_LENGTH = 6


@dataclass(frozen=True)
class KpiView:
    id: int
    name: str
    team_id: int
    owner_id: str | None
    unit: str
    direction: str
    target: float
    warn: float | None
    series: tuple[tuple[str, float], ...]  # (period, value), oldest first
    status: KpiStatus | None
    trend: Trend
    period: str = "monthly"

    @property
    def latest(self) -> tuple[str, float] | None:
        return self.series[-1] if self.series else None


def _view(kpi: Kpi, by_period: dict[str, float]) -> KpiView:
    series = tuple(sorted(by_period.items())[-SERIES_LENGTH:])
    values = [value for _, value in series]
    status = (
        kpi_status(values[-1], target=kpi.target, warn=kpi.warn, direction=kpi.direction)
        if values
        else None
    )
    return KpiView(
        kpi.id or 0,
        kpi.name,
        kpi.team_id,
        kpi.owner_id,
        kpi.unit,
        kpi.direction,
        kpi.target,
        kpi.warn,
        series,
        status,
        trend(values, kpi.direction),
        kpi.period,
    )


async def kpi_views(
    *,
    database: Database,
    workspace_id: str,
    teams: Sequence[Team] = (),
    owner_id: str | None = None,
) -> list[KpiView]:
    """KPIs of the given teams (or owned by `owner_id`) with their recent series: two queries."""
    async with database.read() as session:
        query = select(Kpi).where(Kpi.workspace_id == workspace_id)
        if owner_id is not None:
            query = query.where(Kpi.owner_id == owner_id)
        else:
            query = query.where(col(Kpi.team_id).in_([team.id for team in teams]))
        kpis = (await session.exec(query.order_by(col(Kpi.team_id), col(Kpi.id)))).all()
        rows = (
            await session.exec(
                select(KpiMeasurement.kpi_id, KpiMeasurement.period, KpiMeasurement.value)
                .where(
                    col(KpiMeasurement.kpi_id).in_([kpi.id for kpi in kpis]),
                    col(KpiMeasurement.reverted).is_(False),
                )
                .order_by(col(KpiMeasurement.created_at), col(KpiMeasurement.id))
            )
        ).all()
    series: dict[int, dict[str, float]] = defaultdict(dict)
    for kpi_id, period, value in rows:
        series[kpi_id][period] = value  # the latest row of a period wins
    return [_view(kpi, series[kpi.id or 0]) for kpi in kpis]


async def find_kpi(*, database: Database, workspace_id: str, ref: str) -> Kpi:
    """The KPI a person means: its name, an alias, or words of its name."""
    wanted = ref.strip().casefold()
    async with database.read() as session:
        kpis = (await session.exec(select(Kpi).where(Kpi.workspace_id == workspace_id))).all()
    exact = [k for k in kpis if wanted in {k.name.casefold(), *(a.casefold() for a in k.aliases)}]
    found = exact or [k for k in kpis if wanted and wanted in k.name.casefold()]
    if not found:
        raise NotFound(what=ref or "?")
    if len(found) > 1:
        names = ", ".join(kpi.name for kpi in found)
        raise InvalidInput(N_("`{ref}` could mean {ids}; say which one."), ref=ref, ids=names)
    return found[0]


# Each KPI's standing measurement that counts: of its latest period, the last one logged.
# A window ranks each KPI's rows in one pass; a correlated "id = (latest of this KPI)" ran its
# subquery once per row, and cost PostgreSQL 18 ms for 40 KPIs of 24 months (2 ms this way).
_RANKED = (
    select(
        KpiMeasurement.kpi_id,
        KpiMeasurement.value,
        func.row_number()
        .over(
            partition_by=col(KpiMeasurement.kpi_id),
            order_by=(
                col(KpiMeasurement.period).desc(),
                col(KpiMeasurement.created_at).desc(),
                col(KpiMeasurement.id).desc(),
            ),
        )
        .label("rank"),
    )
    .where(
        col(KpiMeasurement.kpi_id).in_(bindparam("kpi_ids", expanding=True)),
        col(KpiMeasurement.reverted).is_(False),
    )
    .subquery()
)
_LATEST = select(_RANKED.c.kpi_id, _RANKED.c.value).where(_RANKED.c.rank == 1)


async def latest_kpi_values(session: AsyncSession, kpi_ids: list[int]) -> dict[int, float]:
    """Each KPI's standing value for its latest period: one statement and one row a KPI,
    whatever the count and however long their history."""
    if not kpi_ids:
        return {}
    rows = await session.exec(_LATEST, params={"kpi_ids": list(kpi_ids)})  # type: ignore[call-overload]
    return {kpi_id: value for kpi_id, value in rows.all()}
