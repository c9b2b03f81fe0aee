"""Importing a workspace's OKRs and KPIs from the YAML file of SPEC §4.

An import is all or nothing: the file is validated and every e-mail address resolved before
one transaction writes it. Rows are matched by their natural keys (team name, objective title,
KR id or title, KPI name, measurement period), so importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alignment import Node, StoredObjective, resolve_objective_parents
from bot.domain import Role, Source
from bot.errors import ImportFileError, Problem
from bot.importfile import (
    CycleSpec,
    ImportSpec,
    InitiativeSpec,
    KeyResultSpec,
    KpiSpec,
    ObjectiveSpec,
    StoredEnds,
    TeamSpec,
    load_import,
    unfrozen_kr,
)
from storage.db import Database
from storage.models import (
    Cycle,
    Initiative,
    KeyResult,
    Kpi,
    KpiMeasurement,
    KrUpdate,
    Membership,
    Objective,
    Person,
    SourceState,
    Team,
    Workspace,
    utcnow,
)

EmailResolver = Callable[[str], Awaitable[str | None]]


@dataclass
class ImportReport:
    """What an import did, counted per kind of row."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated)


async def import_file(
    *,
    database: Database,
    workspace_id: str,
    text: str,
    filename: str,
    resolve_email: EmailResolver | None = None,
    today: dt.date | None = None,
) -> ImportReport:
    """Validate `text`, resolve e-mail addresses, then apply everything in one transaction.

    `today` (default: today in UTC) picks the cycle of objectives that name none in a file of
    several cycles: the one open that day."""
    async with database.session() as session:
        teams = await _team_parents(session, workspace_id)
        cycles = set(
            (await session.exec(select(Cycle.name).where(Cycle.workspace_id == workspace_id))).all()
        )
        kpis = set(
            (await session.exec(select(Kpi.name).where(Kpi.workspace_id == workspace_id))).all()
        )
        objectives = await _stored_objectives(session, workspace_id)
        stored = await _stored_ends(session, workspace_id)
    spec = load_import(
        text,
        filename,
        known_teams=set(teams),
        known_kpis=kpis,
        team_parents=teams,
        known_objectives=objectives,
        known_cycles=cycles,
        today=today or utcnow().date(),
        stored=stored,
    )
    parents = resolve_objective_parents(spec.aligned_objectives(), objectives).parents
    people = await _resolve_people(spec, filename, resolve_email)
    async with database.session() as session:
        return await _Importer(session, workspace_id, people, filename).apply(spec, parents)


async def _team_parents(session: AsyncSession, workspace_id: str) -> dict[str, str | None]:
    """Every stored team's name, with its parent team's name."""
    rows = (await session.exec(select(Team).where(Team.workspace_id == workspace_id))).all()
    names = {team.id: team.name for team in rows}
    return {team.name: names.get(team.parent_id) for team in rows}  # type: ignore[arg-type]


async def _stored_objectives(session: AsyncSession, workspace_id: str) -> list[StoredObjective]:
    query = (
        select(Objective.id, Objective.title, Team.name, Cycle.name, Objective.parent_id)
        .join(Team, col(Team.id) == Objective.team_id)
        .join(Cycle, col(Cycle.id) == Objective.cycle_id)
        .where(Objective.workspace_id == workspace_id)
    )
    return [StoredObjective(*row) for row in (await session.exec(query)).all()]


async def _stored_ends(session: AsyncSession, workspace_id: str) -> StoredEnds:
    """The stored cycles' starts and which are closed, and each stored KR's cycle."""
    cycles = (await session.exec(select(Cycle).where(Cycle.workspace_id == workspace_id))).all()
    query = (
        select(KeyResult.number, Cycle.name)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .join(Cycle, col(Cycle.id) == Objective.cycle_id)
        .where(KeyResult.workspace_id == workspace_id)
    )
    return StoredEnds(
        cycle_starts={cycle.name: cycle.start for cycle in cycles},
        closed_cycles=frozenset(c.name for c in cycles if c.closed_at is not None),
        kr_cycles=dict((await session.exec(query)).all()),
    )


def _person_refs(spec: ImportSpec) -> Iterator[tuple[str, str]]:
    """Every (path, reference) to a person in the file."""
    for i, team in enumerate(spec.teams):
        for role in ("managers", "members"):
            for j, ref in enumerate(getattr(team, role)):
                yield f"teams[{i}].{role}[{j}]", ref
    for i, objective in enumerate(spec.objectives):
        yield f"objectives[{i}].owner", objective.owner or ""
        for j, kr in enumerate(objective.key_results):
            yield f"objectives[{i}].key_results[{j}].owner", kr.owner or ""
            for k, initiative in enumerate(kr.initiatives):
                where = f"objectives[{i}].key_results[{j}].initiatives[{k}].owner"
                yield where, initiative.owner or ""
    for i, kpi in enumerate(spec.kpis):
        yield f"kpis[{i}].owner", kpi.owner or ""


async def _resolve_people(
    spec: ImportSpec, filename: str, resolve_email: EmailResolver | None
) -> dict[str, str]:
    """Map every person reference to a Slack user id, or refuse the file naming each miss."""
    resolved: dict[str, str | None] = {}
    for ref in spec.people():
        if "@" not in ref:
            resolved[ref] = ref
        elif resolve_email is not None:
            resolved[ref] = await resolve_email(ref)
        else:
            resolved[ref] = None
    problems = []
    for path, ref in _person_refs(spec):
        if ref and resolved.get(ref) is None:
            reason = (
                f"no Slack user has the e-mail address {ref}"
                if resolve_email
                else f"{ref}: e-mail addresses need SLACK_BOT_TOKEN to be looked up in Slack"
            )
            problems.append(Problem(path, reason))
    if problems:
        raise ImportFileError(filename, problems)
    return {ref: user for ref, user in resolved.items() if user}


class _Importer:
    """Applies a validated spec inside one session, counting what it creates and changes."""

    def __init__(
        self, session: AsyncSession, workspace_id: str, people: dict[str, str], filename: str
    ) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.people = people
        self.filename = filename
        self.report = ImportReport()
        # What only the stored rows can refuse (a closed KR changed); raised before commit.
        self.problems: list[Problem] = []
        self.carries: list[tuple[KeyResult, int]] = []  # (KR, the number it carries on from)
        self.teams: dict[str, Team] = {}
        self.kpis: dict[str, Kpi] = {}
        self.cycles: dict[str, Cycle] = {}
        self.fresh: set[int] = set()  # rows this import created: later touches are not updates

    def _user(self, ref: str | None) -> str | None:
        return self.people[ref] if ref else None

    def _set(self, row: object, kind: str, **values: object) -> None:
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            if id(row) not in self.fresh:
                self.report.updated[kind] += 1
            self.session.add(row)

    async def _add(self, row: object, kind: str) -> None:
        self.session.add(row)
        await self.session.flush()
        self.report.created[kind] += 1
        self.fresh.add(id(row))

    async def apply(self, spec: ImportSpec, parents: dict[int, Node | None]) -> ImportReport:
        await self._workspace()
        await self._people()
        for cycle_spec in spec.all_cycles():
            await self._cycle(cycle_spec)
        await self._load_existing()
        for team_spec in spec.teams:
            await self._team(team_spec)
        for team_spec in spec.teams:  # a parent may come later in the file
            parent = self.teams[team_spec.parent].id if team_spec.parent else None
            self._set(self.teams[team_spec.name], "team", parent_id=parent)
        for kpi_spec in spec.kpis:
            await self._kpi(kpi_spec)
        written = [
            await self._objective(objective_spec, self.cycles[cycle], position)
            for position, (objective_spec, cycle) in enumerate(
                zip(spec.objectives, spec.objective_cycles, strict=True)
            )
        ]
        placed: dict[tuple[int, int], list[tuple[Objective, int]]] = defaultdict(list)
        for position, objective in enumerate(written):
            placed[(objective.cycle_id, objective.team_id)].append((objective, position))
        for group in placed.values():  # the export orders each team's objectives of a cycle
            self._settle_order(group, "objective")
        for index, objective in enumerate(written):
            parent = parents.get(index)
            if parent is None:
                parent_id = None
            else:
                kind, key = parent
                parent_id = written[key].id if kind == "file" else key
            self._set(objective, "objective", parent_id=parent_id)
        await self._link_carries()
        if self.problems:  # the unit of work rolls back: nothing is written
            raise ImportFileError(self.filename, self.problems)
        return self.report

    async def _workspace(self) -> None:
        if await self.session.get(Workspace, self.workspace_id) is None:
            await self._add(Workspace(id=self.workspace_id), "workspace")

    async def _people(self) -> None:
        rows = await self.session.exec(
            select(Person).where(Person.workspace_id == self.workspace_id)
        )
        known = {person.user_id: person for person in rows.all()}
        for ref, user_id in sorted(self.people.items()):
            email = ref if "@" in ref else None
            person = known.get(user_id)
            if person is None:
                person = Person(workspace_id=self.workspace_id, user_id=user_id, email=email)
                known[user_id] = person
                await self._add(person, "person")
            elif email:
                self._set(person, "person", email=email)

    async def _cycle(self, spec: CycleSpec) -> None:
        query = select(Cycle).where(
            Cycle.workspace_id == self.workspace_id, Cycle.name == spec.name
        )
        cycle = (await self.session.exec(query)).first()
        values = {"start": spec.start, "end": spec.end, "scoring_days": spec.scoring_days}
        if cycle is None:
            # Only a cycle the import makes may arrive closed (the file was checked for it).
            closed = {"closed_at": spec.closed_at} if spec.closed_at else {}
            cycle = Cycle(workspace_id=self.workspace_id, name=spec.name, **values, **closed)
            await self._add(cycle, "cycle")
        else:
            self._set(cycle, "cycle", **values)

    async def _load_existing(self) -> None:
        teams = await self.session.exec(select(Team).where(Team.workspace_id == self.workspace_id))
        self.teams = {team.name: team for team in teams.all()}
        kpis = await self.session.exec(select(Kpi).where(Kpi.workspace_id == self.workspace_id))
        self.kpis = {kpi.name: kpi for kpi in kpis.all()}
        query = select(Cycle).where(Cycle.workspace_id == self.workspace_id)
        self.cycles = {cycle.name: cycle for cycle in (await self.session.exec(query)).all()}

    async def _team(self, spec: TeamSpec) -> None:
        values = {
            "channel_id": spec.channel,
            "checkin_schedule": spec.checkin.schedule if spec.checkin else None,
            "checkin_timezone": spec.checkin.timezone if spec.checkin else None,
            "remind_after_minutes": spec.checkin.remind_after if spec.checkin else 240,
            "close_after_minutes": spec.checkin.close_after if spec.checkin else 1440,
            "digest_schedule": spec.digest.schedule if spec.digest else None,
            "level": str(spec.level),
        }
        team = self.teams.get(spec.name)
        if team is None:
            team = Team(workspace_id=self.workspace_id, name=spec.name, **values)
            await self._add(team, "team")
            self.teams[spec.name] = team
        else:
            self._set(team, "team", **values)
        await self._memberships(team, spec)

    async def _memberships(self, team: Team, spec: TeamSpec) -> None:
        """The file is the truth for who is in a team: add the new, remove the gone."""
        wanted = {(self.people[ref], Role.MANAGER) for ref in spec.managers}
        wanted |= {(self.people[ref], Role.MEMBER) for ref in spec.members}
        rows = (
            await self.session.exec(select(Membership).where(Membership.team_id == team.id))
        ).all()
        have = {(row.user_id, row.role): row for row in rows}
        for key, row in have.items():
            if key not in wanted:
                await self.session.delete(row)
                self.report.updated["membership"] += 1
        for user_id, role in sorted(wanted - set(have)):
            row = Membership(
                workspace_id=self.workspace_id, team_id=team.id, user_id=user_id, role=role
            )
            await self._add(row, "membership")

    async def _kpi(self, spec: KpiSpec) -> None:
        values = {
            "team_id": self.teams[spec.team].id,
            "owner_id": self._user(spec.owner),
            "unit": spec.unit,
            "direction": str(spec.direction),
            "target": spec.target,
            "warn": spec.warn,
            "period": str(spec.period),
            "aliases": list(spec.aliases),
            "source": spec.source.model_dump(mode="json", exclude_defaults=True)
            if spec.source
            else None,
        }
        kpi = self.kpis.get(spec.name)
        if kpi is None:
            kpi = Kpi(workspace_id=self.workspace_id, name=spec.name, **values)
            await self._add(kpi, "kpi")
            self.kpis[spec.name] = kpi
        else:
            self._set(kpi, "kpi", **values)
        if spec.source and await self.session.get(SourceState, kpi.id) is None:
            # Where the source stands: the row its pulls claim (see bot/services/sources.py).
            self.session.add(SourceState(kpi_id=kpi.id or 0, workspace_id=self.workspace_id))
        await self._measurements(kpi, spec)

    async def _measurements(self, kpi: Kpi, spec: KpiSpec) -> None:
        query = (
            select(KpiMeasurement)
            .where(KpiMeasurement.kpi_id == kpi.id, col(KpiMeasurement.reverted).is_(False))
            .order_by(col(KpiMeasurement.created_at), col(KpiMeasurement.id))
        )
        latest = {row.period: row.value for row in (await self.session.exec(query)).all()}
        for measurement in spec.measurements:
            if latest.get(measurement.period) == measurement.value:
                continue
            row = KpiMeasurement(
                workspace_id=self.workspace_id,
                kpi_id=kpi.id,
                period=measurement.period,
                value=measurement.value,
                source=Source.IMPORT,
            )
            await self._add(row, "measurement")

    async def _objective(self, spec: ObjectiveSpec, cycle: Cycle, position: int) -> Objective:
        team = self.teams[spec.team]
        query = select(Objective).where(
            Objective.team_id == team.id,
            Objective.cycle_id == cycle.id,
            Objective.title == spec.title,
        )
        objective = (await self.session.exec(query)).first()
        values = {
            "owner_id": self._user(spec.owner),
            "weight": spec.weight,
            "progress_from": str(spec.progress_from),
        }
        finals = {
            "final_progress": spec.final_progress,
            "final_status": spec.final_status and str(spec.final_status),
            "score": spec.score,
        }
        if objective is None:
            objective = Objective(
                workspace_id=self.workspace_id,
                team_id=team.id,
                cycle_id=cycle.id,
                title=spec.title,
                position=position,
                **values,
                **finals,  # only a closed cycle's objectives have them (the file was checked)
            )
            await self._add(objective, "objective")
        else:
            self._set(objective, "objective", **values)
            given = {name: value for name, value in finals.items() if value is not None}
            where, label = f"objectives[{position}]", f"objective {spec.title!r}"
            self._keep_frozen(objective, where, label, cycle, **given)
        krs = []
        for kr_position, kr_spec in enumerate(spec.key_results):
            where = f"objectives[{position}].key_results[{kr_position}]"
            krs.append(
                (await self._key_result(kr_spec, objective, cycle, kr_position, where), kr_position)
            )
        self._settle_order(krs, "key_result")
        return objective

    def _settle_order(
        self, rows: Sequence[tuple[Objective | KeyResult | Initiative, int]], kind: str
    ) -> None:
        """The file's order, as positions, written only where the rows stand in another order:
        an export re-imports unchanged even where positions repeat (a carried KR keeps the
        position it had in its old objective)."""
        standing = sorted(rows, key=lambda pair: (pair[0].position, pair[0].id or 0))
        if [row.id for row, _ in standing] == [row.id for row, _ in rows]:
            return
        for row, position in rows:
            self._set(row, kind, position=position)

    def _keep_frozen(
        self, row: KeyResult | Objective, where: str, label: str, cycle: Cycle, **given: object
    ) -> None:
        """A closed cycle's rows keep what its close froze: a file that says otherwise is
        refused (nothing is written), one that says the same changes nothing."""
        if cycle.closed_at is None:
            return
        for name, value in given.items():
            if getattr(row, name) != value:
                reason = (
                    f"{label} is closed with cycle {cycle.name}: it keeps its {name} "
                    f"({getattr(row, name)}), not {value}"
                )
                self.problems.append(Problem(f"{where}.{name}", reason))

    async def _find_kr(self, spec: KeyResultSpec, objective: Objective) -> KeyResult | None:
        if spec.number is not None:
            query = select(KeyResult).where(
                KeyResult.workspace_id == self.workspace_id, KeyResult.number == spec.number
            )
        else:
            query = select(KeyResult).where(
                KeyResult.objective_id == objective.id, KeyResult.title == spec.title
            )
        return (await self.session.exec(query)).first()

    async def _next_number(self) -> int:
        query = select(func.max(KeyResult.number)).where(
            KeyResult.workspace_id == self.workspace_id
        )
        return int((await self.session.exec(query)).one() or 0) + 1

    async def _key_result(
        self, spec: KeyResultSpec, objective: Objective, cycle: Cycle, position: int, where: str
    ) -> KeyResult:
        values = {
            "objective_id": objective.id,
            "title": spec.title,
            "owner_id": self._user(spec.owner),
            "start": spec.start,
            "target": spec.target,
            "unit": spec.unit,
            "weight": spec.weight,
            "aliases": list(spec.aliases),
            "kpi_id": self.kpis[spec.kpi].id if spec.kpi else None,
        }
        kr = await self._find_kr(spec, objective)
        scored = _scored(spec)
        if kr is None:
            number = spec.number or await self._next_number()
            current = spec.start if spec.current is None else spec.current
            if cycle.closed_at is not None and (problem := unfrozen_kr(where, spec, cycle.name)):
                self.problems.append(problem)
            kr = KeyResult(
                workspace_id=self.workspace_id,
                number=number,
                current=current,
                position=position,
                closed_at=cycle.closed_at,
                final_progress=spec.final_progress,
                final_status=spec.final_status and str(spec.final_status),
                **values,
                **scored,
            )
            await self._add(kr, "key_result")
        elif kr.closed_at is not None and kr.objective_id != objective.id:
            reason = f"KR-{kr.number} is closed with its cycle: it stays under its objective"
            self.problems.append(Problem(f"{where}.id", reason))
        elif kr.closed_at is not None:
            self._set(kr, "key_result", **_unfrozen(values))
            self._keep_frozen(kr, where, f"KR-{kr.number}", cycle, **_frozen(spec, scored))
        else:
            self._set(kr, "key_result", **values, **scored)
            if spec.current is not None and spec.current != kr.current:
                self._record_current(kr, spec.current)
        if spec.carried_from_number is not None:
            self.carries.append((kr, spec.carried_from_number))
        initiatives = [
            (await self._initiative(initiative, kr, n, f"{where}.initiatives[{n}]"), n)
            for n, initiative in enumerate(spec.initiatives)
        ]
        self._settle_order(initiatives, "initiative")
        return kr

    async def _link_carries(self) -> None:
        """Each `carried_from`, once every KR of the file is written: the KR of that number."""
        numbers = {number for _, number in self.carries}
        query = select(KeyResult.number, KeyResult.id).where(
            KeyResult.workspace_id == self.workspace_id, col(KeyResult.number).in_(numbers)
        )
        ids = dict((await self.session.exec(query)).all()) if numbers else {}
        for kr, number in self.carries:
            self._set(kr, "key_result", carried_from_id=ids[number])

    def _record_current(self, kr: KeyResult, value: float) -> None:
        self.session.add(
            KrUpdate(
                workspace_id=self.workspace_id,
                kr_id=kr.id,
                old_value=kr.current,
                new_value=value,
                source=Source.IMPORT,
            )
        )
        self._set(kr, "key_result", current=value, updated_at=utcnow())

    async def _initiative(
        self, spec: InitiativeSpec, kr: KeyResult, position: int, where: str
    ) -> Initiative:
        query = select(Initiative).where(Initiative.kr_id == kr.id, Initiative.title == spec.title)
        initiative = (await self.session.exec(query)).first()
        values = {"owner_id": self._user(spec.owner), "status": str(spec.status)}
        # A stored closed KR's initiatives stay as its cycle left them (new work goes to the
        # KR it carried on as); a closed KR this import makes is given its initiatives.
        moved = initiative is None or initiative.status != spec.status
        if kr.closed_at is not None and id(kr) not in self.fresh and moved:
            reason = f"KR-{kr.number} is closed: its initiatives stay as its cycle left them"
            self.problems.append(Problem(where, reason))
        if initiative is None:
            initiative = Initiative(
                workspace_id=self.workspace_id,
                kr_id=kr.id,
                title=spec.title,
                position=position,
                **values,
            )
            await self._add(initiative, "initiative")
        else:
            self._set(initiative, "initiative", **values)
        return initiative


def _scored(spec: KeyResultSpec) -> dict[str, object]:
    """A KR's score as the file gives it; a file silent on it leaves a stored score alone."""
    if spec.score is None:
        return {}
    return {
        "score": spec.score,
        "score_note": spec.score_note,
        "score_suggested": spec.score_suggested,
    }


_FROZEN_VALUES = ("start", "target")


def _unfrozen(values: dict[str, object]) -> dict[str, object]:
    """What a file may still change on a closed KR: its place, names and links."""
    return {name: value for name, value in values.items() if name not in _FROZEN_VALUES}


def _frozen(spec: KeyResultSpec, scored: dict[str, object]) -> dict[str, object]:
    """What the file says of a closed KR's frozen values, to hold against the stored ones."""
    said: dict[str, object] = {name: getattr(spec, name) for name in _FROZEN_VALUES}
    if spec.current is not None:
        said["current"] = spec.current
    if spec.final_progress is not None:
        said["final_progress"] = spec.final_progress
    if spec.final_status is not None:
        said["final_status"] = str(spec.final_status)
    return {**said, **scored}
