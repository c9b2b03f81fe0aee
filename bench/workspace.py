"""SPEC §6's bench workspace: 20 teams of 5 members and a manager, 200 objectives, 1,000 KRs
(half of them decreasing), 100 KPIs with two years of monthly values, 100,000 updates in the
history. `--teams` makes it smaller; everything else scales with it.

Each member owns one KR of each of their team's objectives and one KPI; the manager owns the
objectives. The cycle is placed around today, so the app sees it open whenever the bench runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import WORKSPACE
from bot.domain import Role
from storage.db import Database
from storage.models import (
    Cycle,
    KeyResult,
    Kpi,
    KpiMeasurement,
    KrUpdate,
    Membership,
    Objective,
    Person,
    Team,
    Workspace,
)

TEAMS, MEMBERS, OBJECTIVES_PER_TEAM, KRS_PER_OBJECTIVE = 20, 5, 10, 5
UPDATES_PER_KR, KPI_MONTHS = 100, 24
BATCH = 5000


@dataclass(frozen=True)
class BenchTeam:
    name: str
    channel: str
    manager: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class BenchWorkspace:
    teams: tuple[BenchTeam, ...]

    @property
    def people(self) -> list[str]:
        return [user for team in self.teams for user in (team.manager, *team.members)]

    def callers(self) -> list[tuple[str, str]]:
        """(member, team channel) pairs, one per team: who asks `/okr status` where."""
        return [(team.members[0], team.channel) for team in self.teams]

    def describe(self) -> str:
        krs = len(self.teams) * OBJECTIVES_PER_TEAM * KRS_PER_OBJECTIVE
        return (
            f"{len(self.teams)} teams, {len(self.people)} people, "
            f"{len(self.teams) * OBJECTIVES_PER_TEAM} objectives, {krs} KRs, "
            f"{len(self.teams) * MEMBERS} KPIs × {KPI_MONTHS} months, "
            f"{krs * UPDATES_PER_KR} updates"
        )


def bench_team(index: int) -> BenchTeam:
    members = tuple(f"U0T{index:03}M{m}" for m in range(MEMBERS))
    return BenchTeam(f"Team {index:02}", f"C0T{index:03}", f"U0T{index:03}BOSS", members)


async def _insert(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.exec(insert(model), params=rows[start : start + BATCH])  # type: ignore[call-overload]


async def populate(database: Database, teams: int = TEAMS) -> BenchWorkspace:
    """Writes the workspace into an empty, migrated database."""
    workspace = BenchWorkspace(tuple(bench_team(i) for i in range(teams)))
    today = dt.datetime.now(dt.UTC).date()
    async with database.session() as session:
        session.add(Workspace(id=WORKSPACE))
        await session.flush()
        half = dt.timedelta(days=45)
        cycle = Cycle(workspace_id=WORKSPACE, name="bench", start=today - half, end=today + half)
        session.add(cycle)
        for team in workspace.teams:
            _add_people(session, team)
        await session.flush()
        krs = [
            await _add_team(session, i, team, cycle.id or 0)
            for i, team in enumerate(workspace.teams)
        ]
        await _insert(session, KrUpdate, _history([kr for team in krs for kr in team]))
    return workspace


def _add_people(session: AsyncSession, team: BenchTeam) -> None:
    # Known locales and timezones: no request stops to ask Slack's users.info.
    session.add_all(
        Person(workspace_id=WORKSPACE, user_id=user, name=user, locale="en", timezone="UTC")
        for user in (team.manager, *team.members)
    )


async def _add_team(
    session: AsyncSession, index: int, team: BenchTeam, cycle_id: int
) -> list[KeyResult]:
    """Team `index`, its memberships, objectives, KRs and KPIs; returns its KRs."""
    row = Team(workspace_id=WORKSPACE, name=team.name, channel_id=team.channel)
    session.add(row)
    await session.flush()
    team_id = row.id or 0
    roles = [(team.manager, Role.MANAGER), *((m, Role.MEMBER) for m in team.members)]
    session.add_all(
        Membership(workspace_id=WORKSPACE, team_id=team_id, user_id=user, role=role)
        for user, role in roles
    )
    objectives = [
        Objective(
            workspace_id=WORKSPACE,
            team_id=team_id,
            cycle_id=cycle_id,
            title=f"Objective {team.name} {o}",
            owner_id=team.manager,
            position=o,
        )
        for o in range(OBJECTIVES_PER_TEAM)
    ]
    session.add_all(objectives)
    await session.flush()
    first = index * OBJECTIVES_PER_TEAM * KRS_PER_OBJECTIVE + 1
    krs = [
        _key_result(team, objective, first + o * KRS_PER_OBJECTIVE + k, k)
        for o, objective in enumerate(objectives)
        for k in range(KRS_PER_OBJECTIVE)
    ]
    session.add_all(krs)
    await _add_kpis(session, team, team_id)
    await session.flush()
    return krs


def _key_result(team: BenchTeam, objective: Objective, number: int, k: int) -> KeyResult:
    """KR `k` of an objective (`KR-number`), owned by member `k`; every other KR decreases."""
    decreasing = number % 2 == 0
    return KeyResult(
        workspace_id=WORKSPACE,
        number=number,
        objective_id=objective.id or 0,
        title=f"Key result {objective.position}.{k} of {team.name}",
        owner_id=team.members[k % len(team.members)],
        start=100 if decreasing else 0,
        target=20 if decreasing else 100,
        current=(objective.position * 7 + k * 13) % 80 + 10,
        unit="points",
        position=k,
    )


async def _add_kpis(session: AsyncSession, team: BenchTeam, team_id: int) -> None:
    """One KPI per member, with a value for each of the last KPI_MONTHS months."""
    kpis = [
        Kpi(
            workspace_id=WORKSPACE,
            team_id=team_id,
            name=f"Tickets {team.name} {m}",
            owner_id=member,
            unit="tickets",
            target=150,
            warn=180,
            direction="lower_is_better",
        )
        for m, member in enumerate(team.members)
    ]
    session.add_all(kpis)
    await session.flush()
    months = _last_months(KPI_MONTHS)
    rows = [
        {
            "workspace_id": WORKSPACE,
            "kpi_id": kpi.id,
            "period": period,
            "value": 120 + (i * 7 + (kpi.id or 0)) % 50,
            "author_id": kpi.owner_id,
            "source": "import",
        }
        for kpi in kpis
        for i, period in enumerate(months)
    ]
    await _insert(session, KpiMeasurement, rows)


def _last_months(count: int) -> list[str]:
    """`YYYY-MM` of the `count` months before this one, oldest first."""
    today = dt.datetime.now(dt.UTC).date()
    index = today.year * 12 + today.month - 1
    return [f"{(index - i) // 12}-{(index - i) % 12 + 1:02}" for i in range(count, 0, -1)]


def _history(krs: list[KeyResult]) -> list[dict[str, Any]]:
    """UPDATES_PER_KR past updates per KR, an hour apart, the newest an hour ago."""
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "workspace_id": WORKSPACE,
            "kr_id": kr.id,
            "old_value": u,
            "new_value": u + 1,
            "source": "dm",
            "author_id": kr.owner_id,
            "created_at": now - dt.timedelta(hours=u + 1),
        }
        for kr in krs
        for u in range(UPDATES_PER_KR)
    ]
