"""Creating objectives (with their key results) and KPIs from Slack's modals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import N_
from bot.services.okrs import current_cycle
from storage.db import Database
from storage.models import KeyResult, Kpi, Membership, Objective, Team, utcnow


@dataclass(frozen=True)
class NewKr:
    title: str
    owner_id: str | None
    start: float
    target: float
    unit: str


@dataclass(frozen=True)
class NewObjective:
    title: str
    team_id: int
    owner_id: str | None
    key_results: tuple[NewKr, ...]


@dataclass(frozen=True)
class NewKpi:
    name: str
    team_id: int
    owner_id: str | None
    unit: str
    direction: str
    target: float
    warn: float | None
    period: str
    aliases: tuple[str, ...]


async def _team_for(database: Database, workspace_id: str, team_id: int, user_id: str) -> Team:
    """The team, if the user belongs to it (as member or manager)."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or team.workspace_id != workspace_id:
            raise NotFound(what=f"team #{team_id}")
        query = select(Membership.id).where(
            Membership.team_id == team_id, Membership.user_id == user_id
        )
        if (await session.exec(query)).first() is None:
            raise NotAllowed(N_("Only people in {team} can add to it."), team=team.name)
    return team


async def create_objective(
    *, database: Database, workspace_id: str, user_id: str, new: NewObjective
) -> list[int]:
    """Create the objective and its KRs in the current cycle; returns the new KR numbers."""
    await _team_for(database, workspace_id, new.team_id, user_id)
    for _attempt in range(3):
        try:
            return await _insert_objective(database, workspace_id, new)
        except IntegrityError:
            continue  # another creation took the same KR numbers first: number again
    raise InvalidInput(N_("An objective with that title already exists in this team."))


async def _insert_objective(database: Database, workspace_id: str, new: NewObjective) -> list[int]:
    async with database.session() as session:
        cycle = await current_cycle(session, workspace_id, utcnow().date())
        if cycle is None:
            raise InvalidInput(N_("There is no OKR cycle yet; import one with `okrbot import`."))
        objective = Objective(
            workspace_id=workspace_id,
            team_id=new.team_id,
            cycle_id=cycle.id or 0,
            title=new.title,
            owner_id=new.owner_id,
        )
        session.add(objective)
        await session.flush()
        query = select(func.max(KeyResult.number)).where(KeyResult.workspace_id == workspace_id)
        first = int((await session.exec(query)).one() or 0) + 1
        for position, kr in enumerate(new.key_results):
            session.add(
                KeyResult(
                    workspace_id=workspace_id,
                    number=first + position,
                    objective_id=objective.id or 0,
                    title=kr.title,
                    owner_id=kr.owner_id,
                    start=kr.start,
                    target=kr.target,
                    current=kr.start,
                    unit=kr.unit,
                    position=position,
                )
            )
    return [first + position for position in range(len(new.key_results))]


async def create_kpi(*, database: Database, workspace_id: str, user_id: str, new: NewKpi) -> None:
    """Create a KPI in a team the user belongs to; names are unique in a workspace."""
    await _team_for(database, workspace_id, new.team_id, user_id)
    try:
        async with database.session() as session:
            session.add(
                Kpi(
                    workspace_id=workspace_id,
                    team_id=new.team_id,
                    name=new.name,
                    owner_id=new.owner_id,
                    unit=new.unit,
                    direction=new.direction,
                    target=new.target,
                    warn=new.warn,
                    period=new.period,
                    aliases=list(new.aliases),
                )
            )
    except IntegrityError:
        raise InvalidInput(N_("A KPI called {name} already exists."), name=new.name) from None
