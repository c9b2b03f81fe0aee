"""KPI alerts (SPEC §5): when a KPI moves into `warn` or `off`, or recovers to `ok`, its team's
channel and managers hear it at once; one alert per KPI per change of state, never a storm.

`Kpi.alert_state` is the state last announced. After a measurement (or an undo) the KPI's
status is read back from its latest period and the change is claimed with one conditional
`UPDATE kpi SET alert_state = :new WHERE id = :id AND alert_state IS DISTINCT FROM :new`: when
two writers race to announce the same change, exactly one of them sees its row updated. Before
a KPI's first alert the stored state is empty; the status of the value before the change stands
in for it, so a KPI that was already in `warn` is not announced again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.progress import KpiStatus, kpi_status
from bot.services.digests import KpiLine, Recipient, load_kpi_lines
from bot.services.webhooks import record_event
from storage.db import Database
from storage.models import Kpi, Membership, Person, Team


@dataclass(frozen=True)
class KpiAlert:
    """A KPI's change of state to announce, and who hears it."""

    kpi: KpiLine
    before: KpiStatus | None
    team_name: str
    recipients: tuple[Recipient, ...]

    @property
    def after(self) -> KpiStatus:
        return self.kpi.status


async def claim_kpi_alerts(
    *, database: Database, workspace_id: str, previous: Mapping[int, float | None]
) -> list[KpiAlert]:
    """The alerts this caller won, for KPIs that may have changed state.

    `previous` maps each KPI id to its latest value before the change (None for a first one).
    """
    moved = await _moved(database, workspace_id, previous)
    if not moved:
        return []  # the usual case: no KPI changed state, and no write unit is needed

    async def claim(session: AsyncSession) -> list[KpiAlert]:
        found = [await _claim_one(session, workspace_id, kpi_id, moved[kpi_id]) for kpi_id in moved]
        return [alert for alert in found if alert is not None]

    return await database.transact(claim)


async def _moved(
    database: Database, workspace_id: str, previous: Mapping[int, float | None]
) -> dict[int, float | None]:
    """The KPIs whose state is not the one last announced: the only ones worth a claim."""
    async with database.read() as session:
        found = await load_kpi_lines(
            session, col(Kpi.id).in_(list(previous)), Kpi.workspace_id == workspace_id
        )
    return {
        kpi.id or 0: previous[kpi.id or 0]
        for kpi, line in found
        if line is not None and kpi.alert_state != line.status.value
    }


async def _claim_one(
    session: AsyncSession, workspace_id: str, kpi_id: int, old: float | None
) -> KpiAlert | None:
    found = await load_kpi_lines(session, Kpi.id == kpi_id, Kpi.workspace_id == workspace_id)
    if not found or found[0][1] is None:
        return None
    kpi, line = found[0]
    before = _announced(kpi, old)
    if not await _claim(session, kpi_id, line.status):
        return None  # already the announced state, or another writer announced it
    if before == line.status or (before is None and line.status is KpiStatus.OK):
        return None  # the first state recorded, with nothing new to tell
    team = await session.get(Team, kpi.team_id)
    assert team is not None  # guaranteed by the foreign key
    alert = KpiAlert(line, before, team.name, await _recipients(session, team))
    await record_event(session, workspace_id=workspace_id, event="kpi.alert", data=_event(alert))
    return alert


def _event(alert: KpiAlert) -> dict[str, object]:
    """What the `kpi.alert` webhook event says."""
    line = alert.kpi
    return {
        "kpi": line.name,
        "team": alert.team_name,
        "before": alert.before.value if alert.before else None,
        "after": alert.after.value,
        "value": line.value,
        "period": line.periods[-1],
        "target": line.target,
        "warn": line.warn,
        "unit": line.unit,
    }


def _announced(kpi: Kpi, old: float | None) -> KpiStatus | None:
    """The state people last heard of: the stored one, else the previous value's status."""
    if kpi.alert_state in KpiStatus.__members__.values():
        return KpiStatus(kpi.alert_state)
    if old is None:
        return None
    return kpi_status(old, target=kpi.target, warn=kpi.warn, direction=kpi.direction)


async def _claim(session: AsyncSession, kpi_id: int, state: KpiStatus) -> bool:
    """Set the announced state unless it already is `state`; True when this call changed it."""
    statement = (
        update(Kpi)
        .where(
            col(Kpi.id) == kpi_id,
            or_(col(Kpi.alert_state).is_(None), col(Kpi.alert_state) != state.value),
        )
        .values(alert_state=state.value)
    )
    result = await session.exec(statement)
    return result.rowcount == 1  # type: ignore[union-attr]


async def _recipients(session: AsyncSession, team: Team) -> tuple[Recipient, ...]:
    """The team's channel (if any), then its managers in their languages."""
    person = and_(
        Person.workspace_id == Membership.workspace_id, Person.user_id == Membership.user_id
    )
    query = (
        select(Membership.user_id, Person.locale)
        .outerjoin(Person, person)
        .where(Membership.team_id == team.id, Membership.role == Role.MANAGER)
        .order_by(col(Membership.user_id))
    )
    managers = [Recipient(user_id, locale) for user_id, locale in (await session.exec(query)).all()]
    channel = [Recipient(team.channel_id, None, is_channel=True)] if team.channel_id else []
    return tuple(channel + managers)
