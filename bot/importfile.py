"""The import file (SPEC §4): parsed and validated in full before anything is written.

`load_import(text, filename)` returns an `ImportSpec` or raises `ImportFileError` listing every
problem as `path: reason`, where the path points into the file (`objectives[0].key_results[1]
.target`). This module is pure: e-mail addresses are resolved later by the import service.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.alignment import (
    FileObjective,
    StoredObjective,
    resolve_objective_parents,
    resolve_team_parents,
)
from bot.domain import VALUE_LIMIT, Direction, InitiativeStatus, Level, Period, ProgressFrom
from bot.errors import ImportFileError, Problem
from bot.progress import KrStatus

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$", re.IGNORECASE)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
_KR_ID = re.compile(r"^KR-(\d+)$", re.IGNORECASE)
DEFAULT_SCORING_DAYS = 7


def _person(value: str) -> str:
    value = value.strip()
    if _USER_ID.match(value):
        return value
    if _EMAIL.match(value):
        return value.lower()
    raise ValueError(f"{value!r} is neither a Slack user id (U…) nor an e-mail address")


def _cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a cron schedule like '0 10 * * mon' ({exc})") from None
    return value


def _timezone(value: str) -> str:
    if value == "member":
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use e.g. Asia/Jakarta or member)") from None
    return value


def parse_minutes(value: str | int) -> int:
    """`4h`, `90m`, `1d 2h`, or a number of minutes -> minutes."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration like 4h, 90m or 1d")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * 1440 + hours * 60 + minutes


def format_minutes(minutes: int) -> str:
    """Minutes back into the file's duration form: 240 -> `4h`, 90 -> `1h30m`."""
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def _period(value: str) -> str:
    value = str(value).strip()
    if _MONTH.match(value) or _WEEK.match(value):
        return value
    raise ValueError(f"{value!r} is not a period like 2026-10 (monthly) or 2026-W44 (weekly)")


def _score(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"a score is from 0 to 1, not {value:g}")
    return value


PersonRef = Annotated[str, AfterValidator(_person)]
Text = Annotated[str, Field(min_length=1, max_length=300)]
KrRef = Annotated[str, Field(pattern=_KR_ID.pattern)]
Score = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_score)]
FinalProgress = Annotated[float, Field(allow_inf_nan=False)]
# What only a closed cycle's objectives and KRs carry: frozen at the close (SPEC §8).
FINAL_FIELDS = ("final_progress", "final_status")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CycleSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    start: dt.date
    end: dt.date
    scoring_days: Annotated[int, Field(ge=0, le=90)] = DEFAULT_SCORING_DAYS
    closed_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _order(self) -> CycleSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CheckinSpec(_Strict):
    schedule: Annotated[str, AfterValidator(_cron)]
    timezone: Annotated[str, AfterValidator(_timezone)] | None = None
    remind_after: int = 240
    close_after: int = 1440

    @field_validator("remind_after", "close_after", mode="before")
    @classmethod
    def _minutes(cls, value: str | int) -> int:
        return parse_minutes(value)

    @model_validator(mode="after")
    def _reminder_before_close(self) -> CheckinSpec:
        if not 0 < self.remind_after < self.close_after:
            raise ValueError("remind_after must be positive and shorter than close_after")
        return self


class DigestSpec(_Strict):
    schedule: Annotated[str, AfterValidator(_cron)]


class TeamSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    level: Level = Level.TEAM
    parent: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    channel: Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,}$")] | None = None
    managers: list[PersonRef] = []
    members: list[PersonRef] = []
    checkin: CheckinSpec | None = None
    digest: DigestSpec | None = None


# A KR's or KPI's value: larger numbers are refused (bot.domain.VALUE_LIMIT).
Value = Annotated[float, Field(ge=-VALUE_LIMIT, le=VALUE_LIMIT)]


class InitiativeSpec(_Strict):
    title: Text
    owner: PersonRef | None = None
    status: InitiativeStatus = InitiativeStatus.PLANNED


class KeyResultSpec(_Strict):
    id: KrRef | None = None
    title: Text
    owner: PersonRef | None = None
    start: Value
    target: Value
    current: Value | None = None
    unit: Annotated[str, Field(max_length=32)] = ""
    weight: Annotated[float, Field(gt=0)] = 1.0
    aliases: list[Annotated[str, Field(min_length=1, max_length=60)]] = []
    kpi: str | None = None
    # The end of its cycle: a score and retrospective line (the owner's, or okrbot's
    # suggestion kept at the close), the frozen finals, and the KR it carries on from.
    score: Score | None = None
    score_note: Annotated[str, Field(min_length=1, max_length=3000)] | None = None
    score_suggested: bool = False
    final_progress: FinalProgress | None = None
    final_status: KrStatus | None = None
    carried_from: KrRef | None = None
    initiatives: list[InitiativeSpec] = []

    @property
    def number(self) -> int | None:
        return _number(self.id)

    @property
    def carried_from_number(self) -> int | None:
        return _number(self.carried_from)

    @model_validator(mode="after")
    def _scored(self) -> KeyResultSpec:
        if self.score is None and (self.score_note is not None or self.score_suggested):
            raise ValueError("score_note and score_suggested go with a score")
        return self


def _number(ref: str | None) -> int | None:
    match = _KR_ID.match(ref or "")
    return int(match.group(1)) if match else None


class ObjectiveSpec(_Strict):
    title: Text
    team: str
    owner: PersonRef | None = None
    parent: Text | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    progress_from: ProgressFrom = ProgressFrom.KRS
    cycle: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    final_progress: FinalProgress | None = None
    final_status: KrStatus | None = None
    score: Score | None = None
    key_results: list[KeyResultSpec] = []


class MeasurementSpec(_Strict):
    period: Annotated[str, AfterValidator(_period)]
    value: Value

    @field_validator("period", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | dt.date) else value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// address")
    return value


def _read_only_query(value: str) -> str:
    first = value.split(None, 1)[0].lower() if value.split() else ""
    if first not in ("select", "with"):
        raise ValueError("the query must be one SELECT (or WITH … SELECT); it is run read-only")
    return value


Cron = Annotated[str, AfterValidator(_cron)]
ColumnName = Annotated[str, Field(min_length=1, max_length=100)]


class CsvSourceSpec(_Strict):
    """A CSV over HTTP (a published spreadsheet, a BI export): the row with the latest period
    in `period_column` gives the value in `value_column`, read in `locale`'s number format."""

    csv: Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]
    period_column: ColumnName
    value_column: ColumnName
    schedule: Cron
    locale: Literal["en", "id"] = "en"

    @property
    def kind(self) -> str:
        return "csv"


class SqlSourceSpec(_Strict):
    """A read-only query on the database whose DSN is in `OKRBOT_SOURCE_<NAME>_URL`: its
    first column is the period, its second the value; the row with the latest period counts."""

    sql: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
    query: Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_read_only_query)]
    schedule: Cron
    timeout: Annotated[int, Field(ge=1, le=300)] = 30

    @property
    def kind(self) -> str:
        return "sql"

    @property
    def variable(self) -> str:
        """The environment variable holding the DSN."""
        return f"OKRBOT_SOURCE_{self.sql.upper()}_URL"


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [kind for kind in ("csv", "sql") if kind in value]
        return kinds[0] if len(kinds) == 1 else None
    return getattr(value, "kind", None)


SourceSpec = Annotated[
    Annotated[CsvSourceSpec, Tag("csv")] | Annotated[SqlSourceSpec, Tag("sql")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="a source needs exactly one of csv: URL or sql: NAME",
    ),
]


def load_source(stored: dict[str, Any]) -> CsvSourceSpec | SqlSourceSpec:
    """A KPI's stored source back into its spec (it was valid when imported)."""
    model = SqlSourceSpec if "sql" in stored else CsvSourceSpec
    return model.model_validate(stored)


class KpiSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    team: str
    owner: PersonRef | None = None
    unit: Annotated[str, Field(max_length=32)] = ""
    direction: Direction = Direction.HIGHER
    target: Value
    warn: Value | None = None
    period: Period = Period.MONTHLY
    aliases: list[Annotated[str, Field(min_length=1, max_length=60)]] = []
    source: SourceSpec | None = None
    measurements: list[MeasurementSpec] = []

    @model_validator(mode="after")
    def _warn_side(self) -> KpiSpec:
        if self.warn is None:
            return self
        worse = (
            self.warn < self.target
            if self.direction == Direction.HIGHER
            else self.warn > self.target
        )
        if not worse:
            side = "below" if self.direction == Direction.HIGHER else "above"
            raise ValueError(f"warn must be {side} target for a {self.direction} KPI")
        return self


class ImportSpec(_Strict):
    cycle: CycleSpec | None = None
    cycles: list[CycleSpec] = []
    teams: list[TeamSpec] = []
    objectives: list[ObjectiveSpec] = []
    kpis: list[KpiSpec] = []
    # Each objective's cycle, settled by `_settle_cycles` once the file is valid.
    _objective_cycles: list[str] = PrivateAttr(default_factory=list)

    @property
    def objective_cycles(self) -> list[str]:
        return self._objective_cycles

    @model_validator(mode="after")
    def _one_way_to_say_cycles(self) -> ImportSpec:
        if self.cycle is not None and self.cycles:
            raise ValueError("give either cycle or cycles, not both")
        if self.cycle is None and not self.cycles:
            raise ValueError("the file needs its cycle (cycle: or cycles:)")
        return self

    def all_cycles(self) -> list[CycleSpec]:
        return [self.cycle] if self.cycle is not None else list(self.cycles)

    def placed(self) -> Iterator[tuple[int, ObjectiveSpec, str]]:
        """Each objective with its index in the file and its settled cycle."""
        for index, (objective, cycle) in enumerate(
            zip(self.objectives, self.objective_cycles, strict=True)
        ):
            yield index, objective, cycle

    def aligned_objectives(self) -> list[FileObjective]:
        """The file's objectives as the parent check sees them."""
        return [
            FileObjective(objective.title, objective.team, cycle, objective.parent)
            for objective, cycle in zip(self.objectives, self.objective_cycles, strict=True)
        ]

    def people(self) -> set[str]:
        """Every person reference in the file (ids and e-mail addresses)."""
        found: set[str] = set()
        for team in self.teams:
            found.update(team.managers, team.members)
        for objective in self.objectives:
            found.add(objective.owner or "")
            for kr in objective.key_results:
                found.add(kr.owner or "")
                found.update(initiative.owner or "" for initiative in kr.initiatives)
        found.update(kpi.owner or "" for kpi in self.kpis)
        found.discard("")
        return found


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for index, part in enumerate(loc):
        if index and loc[index - 1] == "source" and part in ("csv", "sql"):
            continue  # the tag of the kind of source, not a field of the file
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "constrained-")):
            out += f".{part}" if out else str(part)
    return out


def _reason(error: dict) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return message[0].lower() + message[1:] if message else message


def _cross_check(
    spec: ImportSpec,
    known_teams: set[str],
    known_kpis: set[str],
    team_parents: Mapping[str, str | None],
    objectives: Iterable[StoredObjective],
    known_cycles: set[str],
    today: dt.date,
    stored: StoredEnds,
) -> list[Problem]:
    """References between sections: teams, KPIs, parents, duplicates, and the ends of
    cycles (closed flags, finals, carry links)."""
    problems: list[Problem] = []
    problems += _duplicates("cycles", [cycle.name for cycle in spec.all_cycles()])
    problems += _settle_cycles(spec, known_cycles, today)
    stored_teams = {name: team_parents.get(name) for name in known_teams}
    problems += resolve_team_parents([(t.name, t.parent) for t in spec.teams], stored_teams)
    teams = {team.name for team in spec.teams} | known_teams
    kpis = {kpi.name for kpi in spec.kpis} | known_kpis
    problems += _duplicates("teams", [team.name for team in spec.teams])
    problems += _duplicates("kpis", [kpi.name for kpi in spec.kpis])
    problems += _duplicates(
        "objectives",
        [
            f"{o.team}: {c}: {o.title}"
            for o, c in zip(spec.objectives, spec.objective_cycles, strict=True)
        ],
    )
    numbers: set[int] = set()
    for i, objective in enumerate(spec.objectives):
        where = f"objectives[{i}]"
        if objective.team not in teams:
            problems.append(Problem(f"{where}.team", f"unknown team {objective.team!r}"))
        problems += _duplicates(f"{where}.key_results", [kr.title for kr in objective.key_results])
        for j, kr in enumerate(objective.key_results):
            if kr.kpi is not None and kr.kpi not in kpis:
                problems.append(Problem(f"{where}.key_results[{j}].kpi", f"unknown KPI {kr.kpi!r}"))
            if kr.number is None:
                continue
            if kr.number in numbers:
                problems.append(Problem(f"{where}.key_results[{j}].id", f"{kr.id} is used twice"))
            numbers.add(kr.number)
    for i, kpi in enumerate(spec.kpis):
        if kpi.team not in teams:
            problems.append(Problem(f"kpis[{i}].team", f"unknown team {kpi.team!r}"))
    if not problems:  # parents are only worth resolving between objectives that are sound
        problems += resolve_objective_parents(spec.aligned_objectives(), objectives).problems
    if not problems:  # so is the end of a cycle, once every objective has its cycle
        problems += _check_closed(spec, stored)
        problems += _check_carried(spec, stored)
    return problems


@dataclass(frozen=True)
class StoredEnds:
    """What the workspace already holds of its cycles' ends: each cycle's start, the cycles
    closed, and each KR's cycle by number (so `carried_from` may name a stored KR)."""

    cycle_starts: Mapping[str, dt.date] = field(default_factory=dict)
    closed_cycles: frozenset[str] = frozenset()
    kr_cycles: Mapping[int, str] = field(default_factory=dict)


def _cycle_paths(spec: ImportSpec) -> Iterator[tuple[str, CycleSpec]]:
    if spec.cycle is not None:
        yield "cycle", spec.cycle
    for index, cycle in enumerate(spec.cycles):
        yield f"cycles[{index}]", cycle


def _closed_cycles(spec: ImportSpec, stored: StoredEnds) -> set[str]:
    return {c.name for c in spec.all_cycles() if c.closed_at} | set(stored.closed_cycles)


def _check_closed(spec: ImportSpec, stored: StoredEnds) -> list[Problem]:
    """Final values only in a closed cycle, and all of them on every KR of a cycle the file
    closes; a file closes only a cycle it brings (an open one closes with `cycle close`)."""
    problems: list[Problem] = []
    for where, cycle in _cycle_paths(spec):
        if cycle.closed_at is None:
            continue
        if cycle.closed_at.date() < cycle.start:
            problems.append(Problem(f"{where}.closed_at", "a cycle cannot close before it starts"))
        elif cycle.name in stored.cycle_starts and cycle.name not in stored.closed_cycles:
            problems.append(
                Problem(
                    f"{where}.closed_at",
                    f"cycle {cycle.name} is open here: close it with okrbot cycle close, which "
                    "freezes and carries over (an import closes only a cycle it creates)",
                )
            )
    closed = _closed_cycles(spec, stored)
    closing = {c.name for c in spec.all_cycles() if c.closed_at}
    for i, objective, cycle in spec.placed():
        where = f"objectives[{i}]"
        if cycle not in closed:
            problems += _open_finals(where, objective, ("score", *FINAL_FIELDS), cycle)
        for j, kr in enumerate(objective.key_results):
            at = f"{where}.key_results[{j}]"
            if cycle not in closed:
                problems += _open_finals(at, kr, ("score_suggested", *FINAL_FIELDS), cycle)
            elif cycle in closing and (problem := unfrozen_kr(at, kr, cycle)):
                problems.append(problem)
    return problems


def unfrozen_kr(where: str, kr: KeyResultSpec, cycle: str) -> Problem | None:
    """A KR of a closed cycle must bring its frozen end: final progress, status and score."""
    missing = [name for name in (*FINAL_FIELDS, "score") if getattr(kr, name) is None]
    if not missing:
        return None
    listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    return Problem(where, f"cycle {cycle} is closed: a key result of it needs its {listed}")


def _open_finals(where: str, item: BaseModel, names: Iterable[str], cycle: str) -> list[Problem]:
    return [
        Problem(
            f"{where}.{name}",
            f"cycle {cycle} is not closed: only a closed cycle's key results and objectives "
            "have final values",
        )
        for name in names
        if getattr(item, name) not in (None, False)
    ]


def _check_carried(spec: ImportSpec, stored: StoredEnds) -> list[Problem]:
    """Each `carried_from` names a KR (by its id in this file, else one stored here) of a
    closed cycle that came before, carried over once."""
    kr_cycles = dict(stored.kr_cycles)
    for _, objective, cycle in spec.placed():
        kr_cycles.update({kr.number: cycle for kr in objective.key_results if kr.number})
    starts = {**stored.cycle_starts, **{c.name: c.start for c in spec.all_cycles()}}
    closed = _closed_cycles(spec, stored)
    problems: list[Problem] = []
    seen: dict[int, str] = {}
    for i, objective, cycle in spec.placed():
        for j, kr in enumerate(objective.key_results):
            number = kr.carried_from_number
            if number is None:
                continue
            where = f"objectives[{i}].key_results[{j}].carried_from"
            source = kr_cycles.get(number)
            if source is None:
                reason = f"unknown key result KR-{number} (name one by its id in this file)"
            elif number == kr.number:
                reason = "a key result cannot carry over from itself"
            elif starts[source] >= starts[cycle]:
                reason = (
                    f"KR-{number} is of cycle {source}, which does not come before {cycle}: "
                    "a key result carries over from an earlier cycle"
                )
            elif source not in closed:
                reason = f"KR-{number} is of cycle {source}, which is not closed: only a closed "
                reason += "cycle's key results carry over"
            elif number in seen:
                reason = f"KR-{number} is carried over twice (also at {seen[number]})"
            else:
                seen[number] = where
                continue
            problems.append(Problem(where, reason))
    return problems


def _settle_cycles(spec: ImportSpec, known_cycles: set[str], today: dt.date) -> list[Problem]:
    """Each objective's cycle: the one it names, else the file's only cycle, else the file's
    cycle open today."""
    cycles = spec.all_cycles()
    names = {cycle.name for cycle in cycles} | known_cycles
    open_today = [c.name for c in cycles if c.start <= today <= c.end]
    default = cycles[0].name if len(cycles) == 1 else (open_today or [None])[0]
    problems: list[Problem] = []
    spec.objective_cycles.clear()
    for index, objective in enumerate(spec.objectives):
        cycle = objective.cycle or default
        if cycle is None:
            listed = ", ".join(c.name for c in cycles)
            problems.append(
                Problem(
                    f"objectives[{index}].cycle", f"no cycle is open today: say which ({listed})"
                )
            )
        elif cycle not in names:
            problems.append(Problem(f"objectives[{index}].cycle", f"unknown cycle {cycle!r}"))
        spec.objective_cycles.append(cycle or "")
    return problems


def _duplicates(where: str, names: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, name in enumerate(names):
        if name in seen:
            problems.append(Problem(f"{where}[{index}]", f"{name!r} appears twice"))
        seen.add(name)
    return problems


def load_import(
    text: str,
    filename: str,
    *,
    known_teams: set[str] = frozenset(),  # type: ignore[assignment]
    known_kpis: set[str] = frozenset(),  # type: ignore[assignment]
    team_parents: Mapping[str, str | None] | None = None,
    known_objectives: Iterable[StoredObjective] = (),
    known_cycles: set[str] = frozenset(),  # type: ignore[assignment]
    today: dt.date | None = None,
    stored: StoredEnds | None = None,
) -> ImportSpec:
    """Parse and validate an import file; raise ImportFileError listing every problem.

    `team_parents` (stored team name -> its parent's name), `known_objectives` and
    `known_cycles` are what the workspace already holds, so parents and cycles may name them
    and loops through them are found; `today` picks the cycle open today for objectives that
    name none in a file of several cycles; `stored` what it holds of its cycles' ends."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ImportFileError(filename, [Problem(where, f"not valid YAML: {reason}")]) from None
    if not isinstance(data, dict):
        raise ImportFileError(filename, [Problem("", "expected a mapping with cycle, teams, …")])
    try:
        spec = ImportSpec.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(_path(e["loc"]), _reason(e)) for e in exc.errors()]
        raise ImportFileError(filename, problems) from None
    problems = _cross_check(
        spec,
        set(known_teams),
        set(known_kpis),
        team_parents or {},
        known_objectives,
        set(known_cycles),
        today or dt.date.today(),
        stored or StoredEnds(),
    )
    if problems:
        raise ImportFileError(filename, problems)
    return spec
