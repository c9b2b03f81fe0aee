"""KPI alerts (SPEC §5): when a KPI moves into `warn` or `off`, or recovers to `ok`, its team's
channel and managers hear it at once; one alert per KPI per change of state, never a storm.

`Kpi.alert_state` is the state last announced. At the end of the unit of work that logged (or
undid) a measurement, the KPI's status is read back from its latest period and the change is
claimed in that same unit with one conditional
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
from bot.services.kpis import latest_kpi_values
from bot.services.webhooks import record_event
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


async def claim_in(
    session: AsyncSession, workspace_id: str, previous: Mapping[int, float | None]
) -> dict[int, KpiAlert]:
    """The alerts won by the write unit that changed these KPIs, by KPI id.

    Called at the end of that unit, so the claim commits (or rolls back) with the change
    itself. `previous` maps each KPI id to its latest value before the unit (None for a first
    one). A KPI whose state is the one last announced costs two small queries for all of them;
    the alert's trend and recipients are read only for a change of state."""
    if not previous:
        return {}
    latest = await latest_kpi_values(session, list(previous))
    won: dict[int, KpiAlert] = {}
    for kpi_id in previous:
        kpi = await session.get(Kpi, kpi_id)  # already in the unit's session, as a rule
        if kpi is None or kpi.workspace_id != workspace_id or kpi_id not in latest:
            continue  # not this workspace's, or every value undone: no state to announce
        state = kpi_status(
            latest[kpi_id], target=kpi.target, warn=kpi.warn, direction=kpi.direction
        )
        if kpi.alert_state == state.value:
            continue  # the usual case: no change of state, nothing to claim
        alert = await _claim_one(session, kpi, state, previous[kpi_id])
        if alert is not None:
            won[kpi_id] = alert
    return won


async def _claim_one(
    session: AsyncSession, kpi: Kpi, state: KpiStatus, old: float | None
) -> KpiAlert | None:
    before = _announced(kpi, old)
    if not await _claim(session, kpi.id or 0, state):
        return None  # another writer announced it
    if before == state or (before is None and state is KpiStatus.OK):
        return None  # the first state recorded, with nothing new to tell
    ((_, line),) = await load_kpi_lines(session, Kpi.id == kpi.id)
    team = await session.get(Team, kpi.team_id)
    assert team is not None and line is not None  # the foreign key; a value was read above
    alert = KpiAlert(line, before, team.name, await _recipients(session, team))
    await record_event(
        session, workspace_id=kpi.workspace_id, event="kpi.alert", data=_event(alert)
    )
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
