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
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Role
from bot.progress import KpiStatus, kpi_status
from bot.services.digests import KpiLine, Recipient, load_kpi_lines
from bot.services.kpis import latest_kpi_values
from bot.services.webhooks import record_event
from storage.db import write_deferred
from storage.models import Kpi, KpiMeasurement, Membership, Person, Team


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
    the trend and recipients of the alerts won are read in three more, however many won."""
    if not previous:
        return {}
    await write_deferred(session, KpiMeasurement)  # the unit's own measurements count
    latest = await latest_kpi_values(session, list(previous))
    changed: dict[int, tuple[Kpi, KpiStatus]] = {}
    for kpi_id in previous:
        kpi = await session.get(Kpi, kpi_id)  # already in the unit's session, as a rule
        if kpi is None or kpi.workspace_id != workspace_id or kpi_id not in latest:
            continue  # not this workspace's, or every value undone: no state to announce
        state = kpi_status(
            latest[kpi_id], target=kpi.target, warn=kpi.warn, direction=kpi.direction
        )
        if kpi.alert_state != state.value:  # else the usual case: nothing to claim
            changed[kpi_id] = (kpi, state)
    won = {}
    for kpi_id in await _claim(session, {kpi_id: state for kpi_id, (_, state) in changed.items()}):
        kpi, state = changed[kpi_id]
        before = _announced(kpi, previous[kpi_id])
        set_committed_value(kpi, "alert_state", state.value)  # as the statement left the row
        if before != state and not (before is None and state is KpiStatus.OK):
            won[kpi_id] = (kpi, before)  # else the first state recorded: nothing new to tell
    return await _alerts(session, won) if won else {}


async def _alerts(
    session: AsyncSession, won: Mapping[int, tuple[Kpi, KpiStatus | None]]
) -> dict[int, KpiAlert]:
    """The alerts of the KPIs whose change of state this unit claimed, each recorded as a
    `kpi.alert` webhook event in the same unit."""
    lines = await load_kpi_lines(session, col(Kpi.id).in_(list(won)))
    query = select(Team).where(col(Team.id).in_({kpi.team_id for kpi, _ in won.values()}))
    teams = {team.id: team for team in (await session.exec(query)).all()}
    recipients = await _recipients(session, list(teams.values()))
    alerts = {}
    for kpi_id, (kpi, before) in won.items():
        line, team = lines[kpi_id], teams[kpi.team_id]
        assert line is not None  # a value was read above
        alert = KpiAlert(line, before, team.name, recipients[kpi.team_id])
        await record_event(
            session, workspace_id=kpi.workspace_id, event="kpi.alert", data=_event(alert)
        )
        alerts[kpi_id] = alert
    return alerts


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


async def _claim(session: AsyncSession, states: Mapping[int, KpiStatus]) -> list[int]:
    """Set each KPI's announced state unless it already is the one given; the KPIs this call
    changed, in one statement per state."""
    claimed = []
    for state in sorted(set(states.values()), key=lambda state: state.value):
        statement = (
            update(Kpi)
            .where(
                col(Kpi.id).in_([kpi_id for kpi_id, s in states.items() if s is state]),
                or_(col(Kpi.alert_state).is_(None), col(Kpi.alert_state) != state.value),
            )
            .values(alert_state=state.value)
            .returning(col(Kpi.id))
        )
        connection = await session.connection()
        claimed += (await connection.execute(statement)).scalars().all()
    return [kpi_id for kpi_id in states if kpi_id in claimed]


async def _recipients(session: AsyncSession, teams: list[Team]) -> dict[int, tuple[Recipient, ...]]:
    """Each team's channel (if any), then its managers in their languages, by team id."""
    person = and_(
        Person.workspace_id == Membership.workspace_id, Person.user_id == Membership.user_id
    )
    query = (
        select(Membership.team_id, Membership.user_id, Person.locale)
        .outerjoin(Person, person)
        .where(col(Membership.team_id).in_([team.id for team in teams]))
        .where(Membership.role == Role.MANAGER)
        .order_by(col(Membership.user_id))
    )
    managers = (await session.exec(query)).all()
    return {
        team.id or 0: tuple(
            ([Recipient(team.channel_id, None, is_channel=True)] if team.channel_id else [])
            + [Recipient(user_id, locale) for of, user_id, locale in managers if of == team.id]
        )
        for team in teams
    }
