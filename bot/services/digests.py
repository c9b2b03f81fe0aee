"""Managers' digests (SPEC §5): what a team's round changed, who is stuck, who went quiet.

`gather_digest` reads everything one digest needs in a fixed number of queries (six,
whatever the number of KRs, updates or people) and composes it, in pure code, into a `Digest`.
A digest goes out once per (team, period, recipient): `claim_digest` inserts the `DigestSent`
row before anything is sent, so a second run (or a second replica) finds the claim and sends
nothing. The row keeps a snapshot of every KR's progress and status; the next digest compares
against it to say what changed.

History rows are stamped with the wall clock (not the services' clock), so the window "since
the last digest" is measured with the wall clock too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Row, Text, and_, bindparam, cast, or_, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import PromptState, Role
from bot.progress import (
    LOW_CONFIDENCE,
    KpiStatus,
    KrStatus,
    Trend,
    expected_progress,
    kpi_status,
    kr_progress,
    objective_progress,
    trend,
)
from bot.services.okrs import KR_COLUMNS, KrView, current_cycle_query, kr_view
from bot.services.webhooks import record_event
from storage.db import Database, column_rows
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    DigestSent,
    Initiative,
    InitiativeUpdate,
    KeyResult,
    Kpi,
    KpiMeasurement,
    KrUpdate,
    Membership,
    Objective,
    Person,
    Team,
    utcnow,
)

HISTORY_ROUNDS = 8  # rounds looked back for a blocker's age and a member's silence
KPI_PERIODS = 6  # periods shown in a KPI's trend
DEFAULT_WINDOW = dt.timedelta(days=7)  # "what changed" before a team's first digest
_NO_REPLY = frozenset({PromptState.CLAIMED, PromptState.SENT, PromptState.FAILED})
_STATUS_ORDER = {KrStatus.OFF_TRACK: 0, KrStatus.AT_RISK: 1, KrStatus.ON_TRACK: 2}


@dataclass(frozen=True)
class Recipient:
    """Who gets a digest: a manager (DM, in their language) or the team's channel."""

    id: str
    locale: str | None
    is_channel: bool = False


@dataclass(frozen=True)
class ObjectiveLine:
    """An objective's progress now and its change since the last digest (fractions)."""

    title: str
    progress: float
    change: float


@dataclass(frozen=True)
class Flip:
    """A KR whose status changed since the last digest."""

    kr: KrView
    before: KrStatus


@dataclass(frozen=True)
class Note:
    """A blocker or note from the round; `age` counts the rounds in a row with a note on the
    same item (1: new this round), None for a note recorded outside a round."""

    label: str
    author_id: str | None
    text: str
    age: int | None


@dataclass(frozen=True)
class Silent:
    """A member who has not replied, and for how many rounds in a row."""

    user_id: str
    rounds: int


@dataclass(frozen=True)
class Away:
    user_id: str
    until: dt.date | None


@dataclass(frozen=True)
class Participation:
    """Who checked in to the round, who skipped it, who did not answer and who is away."""

    asked: int
    replied: tuple[str, ...]
    skipped: tuple[str, ...]
    silent: tuple[Silent, ...]
    away: tuple[Away, ...]


@dataclass(frozen=True)
class KpiLine:
    """A KPI's latest value, status and the series of its last periods."""

    name: str
    unit: str
    target: float
    warn: float | None
    status: KpiStatus
    periods: tuple[str, ...]
    values: tuple[float, ...]
    trend: Trend

    @property
    def value(self) -> float:
        return self.values[-1]


@dataclass(frozen=True)
class InitiativeMove:
    title: str
    kr_label: str
    before: str
    after: str


@dataclass(frozen=True)
class RoundInfo:
    id: int
    scheduled_for: dt.datetime
    closed: bool


@dataclass(frozen=True)
class Digest:
    """Everything one team's digest says, ready for a Block Kit builder or a chart."""

    workspace_id: str
    team_id: int
    team_name: str
    cycle_name: str | None
    expected: float
    first: bool
    round: RoundInfo | None
    objectives: tuple[ObjectiveLine, ...]
    key_results: tuple[KrView, ...]
    flips: tuple[Flip, ...]
    attention: tuple[KrView, ...]
    notes: tuple[Note, ...]
    participation: Participation | None
    kpis: tuple[KpiLine, ...]
    initiatives: tuple[InitiativeMove, ...]
    recipients: tuple[Recipient, ...]

    def snapshot(self) -> dict[str, Any]:
        """What this digest showed, for the next one to compare with."""
        return {"krs": {str(kr.id): [round(kr.progress, 6), kr.status] for kr in self.key_results}}


@dataclass
class _Loaded:
    """The rows one digest is made of, as its statements return them (rounds newest first).

    `team` is the first row of `_TEAM`: the team, its last digest (`last_…`, None before a first
    one) and the current cycle (`cycle_…`, None when there is none); `people` its rows with a
    member or manager."""

    team: Row[Any]
    since: dt.datetime
    rounds: list[RoundInfo] = field(default_factory=list)
    prompts: list[Row[Any]] = field(default_factory=list)
    people: list[Row[Any]] = field(default_factory=list)
    okrs: list[Row[Any]] = field(default_factory=list)
    updates: list[Row[Any]] = field(default_factory=list)
    kpis: list[Row[Any]] = field(default_factory=list)
    moves: list[Row[Any]] = field(default_factory=list)

    @property
    def first(self) -> bool:
        """No digest (of another period) was sent for the team yet: nothing to compare with."""
        return self.team.last_id is None


# -- reading: six statements (three when no cycle has started yet)
#
# Every statement is built once, here, with bound parameters, and selects plain columns: a run
# gathers one digest per team, and building and compiling the select()s anew each time, and
# making ORM instances of rows nothing writes back, cost about as much as running them (SPEC §6,
# bench/digests.py).


def _team_query() -> Select[Any]:
    """The team, the last digest it was sent (to anyone), the current cycle, and its members and
    managers with what we know of them: one row per person (or one for a team without people).

    A digest of `period` itself does not count: a recipient retried later compares with the one
    before. The cycle is `current_cycle_query` in the team's workspace. The snapshot comes as
    text, to be parsed once rather than on every person's row."""
    last = (
        select(DigestSent.id, DigestSent.sent_at, DigestSent.snapshot)
        .where(
            DigestSent.team_id == bindparam("team_id"),
            col(DigestSent.sent_at).is_not(None),
            col(DigestSent.period) != bindparam("period"),
        )
        .order_by(col(DigestSent.sent_at).desc(), col(DigestSent.id).desc())
        .limit(1)
        .subquery("last_digest")
    )
    workspace = select(Team.workspace_id).where(Team.id == bindparam("team_id"))
    cycle = current_cycle_query(workspace.scalar_subquery(), bindparam("today")).subquery("cycle")
    person = and_(
        Person.workspace_id == Membership.workspace_id, Person.user_id == Membership.user_id
    )
    return (
        select(
            Team.id,
            Team.workspace_id,
            Team.name,
            Team.channel_id,
            last.c.id.label("last_id"),
            last.c.sent_at.label("last_sent_at"),
            cast(last.c.snapshot, Text).label("last_snapshot"),
            cycle.c.id.label("cycle_id"),
            cycle.c.name.label("cycle_name"),
            cycle.c.start.label("cycle_start"),
            cycle.c.end.label("cycle_end"),
            Membership.user_id,
            Membership.role,
            Person.locale,
            Person.away_until,
        )
        .select_from(Team)
        .outerjoin(last, true())
        .outerjoin(cycle, true())
        .outerjoin(Membership, col(Membership.team_id) == Team.id)
        .outerjoin(Person, person)
        .where(Team.id == bindparam("team_id"))
        .order_by(col(Membership.user_id))
    )


def _rounds_query(*, up_to_round: bool) -> Select[Any]:
    """The team's latest rounds (up to round `round_id` if `up_to_round`) with their prompts."""
    recent = select(CheckinRound.id).where(CheckinRound.team_id == bindparam("team_id"))
    if up_to_round:
        anchor = select(CheckinRound.scheduled_for).where(CheckinRound.id == bindparam("round_id"))
        recent = recent.where(col(CheckinRound.scheduled_for) <= anchor.scalar_subquery())
    recent = recent.order_by(col(CheckinRound.scheduled_for).desc()).limit(HISTORY_ROUNDS)
    return (
        select(
            CheckinRound.id,
            CheckinRound.scheduled_for,
            CheckinRound.closed_at,
            CheckinPrompt.round_id,
            CheckinPrompt.user_id,
            CheckinPrompt.state,
        )
        .outerjoin(CheckinPrompt, col(CheckinPrompt.round_id) == CheckinRound.id)
        .where(col(CheckinRound.id).in_(recent))
        .order_by(col(CheckinRound.scheduled_for).desc(), col(CheckinRound.id))
    )


def _okrs_query() -> Select[Any]:
    """The team's objectives in the cycle (`o_…`) with their KRs (named as `KrFields` reads
    them; None for an objective without KRs)."""
    return (
        select(col(Objective.id).label("o_id"), col(Objective.title).label("o_title"), *KR_COLUMNS)
        .select_from(Objective)
        .outerjoin(KeyResult, col(KeyResult.objective_id) == Objective.id)
        .where(
            Objective.team_id == bindparam("team_id"), Objective.cycle_id == bindparam("cycle_id")
        )
        .order_by(
            col(Objective.position), col(Objective.id), col(KeyResult.position), col(KeyResult.id)
        )
    )


def _updates_query(*, first: bool) -> Select[Any]:
    """Updates of the team's KRs in the cycle: notes of the recent rounds (`round_ids`) and notes
    outside rounds since `since`; before a `first` digest, every update since `since` too."""
    in_window = col(KrUpdate.created_at) >= bindparam("since")
    notes = and_(
        col(KrUpdate.note).is_not(None),
        or_(
            col(KrUpdate.round_id).in_(bindparam("round_ids", expanding=True)),
            and_(col(KrUpdate.round_id).is_(None), in_window),
        ),
    )
    return (
        select(
            KrUpdate.kr_id,
            KrUpdate.old_value,
            KrUpdate.note,
            KrUpdate.author_id,
            KrUpdate.round_id,
            KrUpdate.created_at,
        )
        .join(KeyResult, col(KeyResult.id) == KrUpdate.kr_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            # A join (not `kr_id IN (...)`): with the OR below, SQLite would scan every update.
            Objective.team_id == bindparam("team_id"),
            Objective.cycle_id == bindparam("cycle_id"),
            col(KrUpdate.reverted).is_(False),
            or_(notes, in_window) if first else notes,
        )
        .order_by(col(KrUpdate.id))
    )


def _moves_query() -> Select[Any]:
    """Status changes since `since` of initiatives under the team's KRs in the cycle."""
    return (
        select(
            InitiativeUpdate.initiative_id,
            InitiativeUpdate.old_status,
            InitiativeUpdate.new_status,
            Initiative.title,
            KeyResult.number,
        )
        .join(Initiative, col(Initiative.id) == InitiativeUpdate.initiative_id)
        .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(
            Objective.team_id == bindparam("team_id"),
            Objective.cycle_id == bindparam("cycle_id"),
            col(InitiativeUpdate.created_at) >= bindparam("since"),
            col(InitiativeUpdate.reverted).is_(False),
        )
        .order_by(col(InitiativeUpdate.id))
    )


def _kpi_query(columns: Sequence[Any], *where: Any) -> Select[Any]:
    """`columns` of KPIs with every measurement still standing, oldest first."""
    standing = and_(col(KpiMeasurement.kpi_id) == Kpi.id, col(KpiMeasurement.reverted).is_(False))
    return (
        select(*columns)
        .select_from(Kpi)
        .outerjoin(KpiMeasurement, standing)
        .where(*where)
        .order_by(
            col(Kpi.name), col(Kpi.id), col(KpiMeasurement.period), col(KpiMeasurement.created_at)
        )
    )


# A KPI's fields and a measurement's in one row; `period` is None for a KPI never measured.
_KPI_SERIES = (
    Kpi.id,
    Kpi.name,
    Kpi.unit,
    Kpi.target,
    Kpi.warn,
    Kpi.direction,
    KpiMeasurement.period,
    KpiMeasurement.value,
    KpiMeasurement.note,
    KpiMeasurement.author_id,
    KpiMeasurement.round_id,
    KpiMeasurement.created_at,
)

_TEAM = _team_query()
_ROUNDS = _rounds_query(up_to_round=False)
_ROUNDS_UP_TO = _rounds_query(up_to_round=True)
_OKRS = _okrs_query()
_UPDATES = _updates_query(first=False)
_UPDATES_BEFORE_FIRST = _updates_query(first=True)
_KPIS = _kpi_query(_KPI_SERIES, Kpi.team_id == bindparam("team_id"))
_MOVES = _moves_query()


async def gather_digest(
    *,
    database: Database,
    team_id: int,
    now: dt.datetime,
    round_id: int | None = None,
    period: str | None = None,
) -> Digest | None:
    """One team's digest: for `round_id` when a round just closed, else for its latest round;
    changes are counted since the last digest of another period than `period`.

    None when the team does not exist."""
    async with database.read() as session:
        loaded = await _load(session, team_id, now, round_id, period)
    return None if loaded is None else compose(loaded, now)


async def _load(
    session: AsyncSession,
    team_id: int,
    now: dt.datetime,
    round_id: int | None,
    period: str | None,
) -> _Loaded | None:
    rows = await _rows(session, _TEAM, team_id=team_id, period=period or "", today=now.date())
    if not rows:
        return None
    team = rows[0]
    loaded = _Loaded(team=team, since=team.last_sent_at or utcnow() - DEFAULT_WINDOW)
    loaded.people = [row for row in rows if row.user_id is not None]
    await _load_rounds(session, loaded, round_id)
    loaded.kpis = await _rows(session, _KPIS, team_id=team_id)
    if team.cycle_id is not None:  # else the team has no OKRs, hence no updates nor moves
        await _load_okrs(session, loaded)
    return loaded


async def _rows(session: AsyncSession, statement: Select[Any], **params: Any) -> list[Row[Any]]:
    """Every row of a prebuilt statement, run with `params`."""
    return list((await session.exec(statement, params=params)).all())  # type: ignore[call-overload]


async def _load_rounds(session: AsyncSession, loaded: _Loaded, round_id: int | None) -> None:
    """The team's latest rounds (up to `round_id` when one is given) and their prompts."""
    statement = _ROUNDS if round_id is None else _ROUNDS_UP_TO
    rows = await _rows(session, statement, team_id=loaded.team.id, round_id=round_id)
    rounds = {
        row.id: RoundInfo(row.id, row.scheduled_for, row.closed_at is not None) for row in rows
    }
    loaded.rounds = list(rounds.values())
    loaded.prompts = [row for row in rows if row.user_id is not None]


async def _load_okrs(session: AsyncSession, loaded: _Loaded) -> None:
    """Objectives and KRs in the cycle, KR updates (see `_updates_query`), initiative moves."""
    params = {"team_id": loaded.team.id, "cycle_id": loaded.team.cycle_id, "since": loaded.since}
    loaded.okrs = await _rows(session, _OKRS, **params)
    updates = _UPDATES_BEFORE_FIRST if loaded.first else _UPDATES
    loaded.updates = await _rows(
        session, updates, **params, round_ids=[checkin.id for checkin in loaded.rounds]
    )
    loaded.moves = await _rows(session, _MOVES, **params)


async def load_kpi_lines(session: AsyncSession, *where: Any) -> dict[int, KpiLine | None]:
    """The lines of the KPIs matching `where`, by KPI id (None before a first measurement)."""
    rows = await column_rows(session, _kpi_query(_KPI_SERIES, *where), {})
    return {row.id: line for row, line in kpi_lines(_kpi_pairs(rows))}


# -- composing (pure)


def compose(loaded: _Loaded, now: dt.datetime) -> Digest:
    """Turn the loaded rows into what the digest says."""
    team = loaded.team
    in_cycle = team.cycle_id is not None
    expected = expected_progress(team.cycle_start, team.cycle_end, now) if in_cycle else 0.0
    previous = _previous(loaded)
    objectives, krs = _objectives(loaded.okrs, expected, previous, _baseline(loaded))
    return Digest(
        workspace_id=team.workspace_id,
        team_id=team.id or 0,
        team_name=team.name,
        cycle_name=team.cycle_name,
        expected=expected,
        first=loaded.first,
        round=loaded.rounds[0] if loaded.rounds else None,
        objectives=objectives,
        key_results=krs,
        flips=_flips(krs, previous),
        attention=_attention(krs, expected),
        notes=_notes(loaded),
        participation=_participation(loaded, now.date()),
        kpis=tuple(line for _, line in kpi_lines(_kpi_pairs(loaded.kpis)) if line is not None),
        initiatives=_moves(loaded.moves),
        recipients=_recipients(loaded),
    )


def _previous(loaded: _Loaded) -> dict[int, tuple[float, str]]:
    """KR id -> (progress, status) as the last digest showed them."""
    krs = {} if loaded.first else json.loads(loaded.team.last_snapshot).get("krs", {})
    return {int(kr_id): (float(p), str(s)) for kr_id, (p, s) in krs.items()}


def _in_window(moment: dt.datetime, loaded: _Loaded) -> bool:
    """SQLite hands datetimes back naive (they were stored in UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware >= loaded.since


def _baseline(loaded: _Loaded) -> dict[int, float]:
    """Before a first digest: each KR's value before the window (its first update's old value)."""
    first: dict[int, float] = {}
    if loaded.first:
        for update in loaded.updates:
            if update.old_value is not None and _in_window(update.created_at, loaded):
                first.setdefault(update.kr_id, update.old_value)
    return first


def _objectives(
    rows: Sequence[Row[Any]],
    expected: float,
    previous: dict[int, tuple[float, str]],
    baseline: dict[int, float],
) -> tuple[tuple[ObjectiveLine, ...], tuple[KrView, ...]]:
    """Each objective's progress and change, and every KR as a summary shows it."""
    grouped: dict[int, tuple[str, list[KrView]]] = {}
    for row in rows:
        views = grouped.setdefault(row.o_id, (row.o_title, []))[1]
        if row.id is not None:
            views.append(kr_view(row, expected))
    lines = []
    for title, views in grouped.values():
        now = objective_progress((kr.progress, kr.weight) for kr in views)
        before = objective_progress(
            (_progress_before(kr, previous, baseline), kr.weight) for kr in views
        )
        lines.append(ObjectiveLine(title, now, now - before))
    krs = tuple(kr for _, views in grouped.values() for kr in views)
    return tuple(lines), krs


def _progress_before(
    kr: KrView, previous: dict[int, tuple[float, str]], baseline: dict[int, float]
) -> float:
    """A KR's progress at the last digest; else before the window; else unchanged."""
    if kr.id in previous:
        return previous[kr.id][0]
    if kr.id in baseline:
        return kr_progress(kr.start, kr.target, baseline[kr.id])
    return kr.progress


def _flips(krs: Iterable[KrView], previous: dict[int, tuple[float, str]]) -> tuple[Flip, ...]:
    flips = []
    for kr in krs:
        before = previous.get(kr.id, (0.0, kr.status))[1]
        if before != kr.status and before in _STATUS_ORDER:
            flips.append(Flip(kr, KrStatus(before)))
    return tuple(flips)


def _attention(krs: Iterable[KrView], expected: float) -> tuple[KrView, ...]:
    """At-risk, off-track and low-confidence KRs, the furthest behind first."""
    needing = [
        kr
        for kr in krs
        if kr.status is not KrStatus.ON_TRACK
        or (kr.confidence is not None and kr.confidence <= LOW_CONFIDENCE)
    ]
    return tuple(
        sorted(needing, key=lambda kr: (_STATUS_ORDER[kr.status], kr.progress - expected, kr.id))
    )


@dataclass(frozen=True)
class _Remark:
    """A note on a KR or KPI, whichever table it came from."""

    key: tuple[str, int]
    label: str
    author_id: str | None
    text: str
    round_id: int | None


def _remarks(loaded: _Loaded) -> list[_Remark]:
    numbers = {row.id: row.number for row in loaded.okrs if row.id is not None}
    remarks = [
        _Remark(("kr", u.kr_id), f"KR-{numbers[u.kr_id]}", u.author_id, u.note or "", u.round_id)
        for u in loaded.updates
        if u.kr_id in numbers and u.note and _is_note(u, loaded)
    ]
    remarks += [
        _Remark(("kpi", row.id), row.name, row.author_id, row.note or "", row.round_id)
        for row in loaded.kpis
        if row.note and _is_note(row, loaded)
    ]
    return [remark for remark in remarks if remark.text.strip()]


def _is_note(row: Any, loaded: _Loaded) -> bool:
    """A note counts when it is from a recent round, or from the window outside rounds."""
    if row.round_id is not None:
        return any(r.id == row.round_id for r in loaded.rounds)
    return _in_window(row.created_at, loaded)


def _notes(loaded: _Loaded) -> tuple[Note, ...]:
    """The current round's notes (the latest per item) with their age, then notes outside
    rounds since the last digest."""
    remarks = _remarks(loaded)
    noted: dict[tuple[str, int], set[int]] = defaultdict(set)
    for remark in remarks:
        if remark.round_id is not None:
            noted[remark.key].add(remark.round_id)
    current = loaded.rounds[0].id if loaded.rounds else None
    latest: dict[tuple[tuple[str, int], bool], _Remark] = {}
    for remark in remarks:
        if remark.round_id is None or remark.round_id == current:
            latest[(remark.key, remark.round_id is None)] = remark
    notes = [
        Note(r.label, r.author_id, r.text.strip(), _age(noted[r.key], loaded.rounds))
        if r.round_id is not None
        else Note(r.label, r.author_id, r.text.strip(), None)
        for r in latest.values()
    ]
    return tuple(sorted(notes, key=lambda note: -(note.age or 0)))


def _age(rounds_with_note: set[int], rounds: Sequence[RoundInfo]) -> int:
    """How many rounds in a row, back from the newest, carried a note on the item."""
    age = 0
    for checkin in rounds:
        if checkin.id not in rounds_with_note:
            break
        age += 1
    return age


def _participation(loaded: _Loaded, today: dt.date) -> Participation | None:
    """Who replied to the latest round, who skipped, who is silent (and since when), who is away."""
    if not loaded.rounds:
        return None
    states = {(p.round_id, p.user_id): p.state for p in loaded.prompts}
    current = loaded.rounds[0]
    replied, skipped, silent, away = [], [], [], []
    for user_id, until in _members(loaded):
        state = states.get((current.id, user_id))
        if state == PromptState.AWAY or (until is not None and until >= today):
            away.append(Away(user_id, until))
        elif state == PromptState.ANSWERED:
            replied.append(user_id)
        elif state == PromptState.SKIPPED:
            skipped.append(user_id)
        elif state in _NO_REPLY:
            silent.append(Silent(user_id, _silence(states, loaded.rounds, user_id)))
    asked = sum(
        1
        for (round_id, _), state in states.items()
        if round_id == current.id and state != PromptState.AWAY
    )
    return Participation(asked, tuple(replied), tuple(skipped), tuple(silent), tuple(away))


def _members(loaded: _Loaded) -> list[tuple[str, dt.date | None]]:
    """Each member (not manager) once, with the day they are away until."""
    found = {p.user_id: p.away_until for p in loaded.people if p.role == Role.MEMBER}
    return list(found.items())


def _silence(states: dict[tuple[int, str], str], rounds: Sequence[RoundInfo], user_id: str) -> int:
    """Rounds in a row, back from the newest, that asked this member and got no reply."""
    count = 0
    for checkin in rounds:
        if states.get((checkin.id, user_id)) not in _NO_REPLY:
            break
        count += 1
    return count


class KpiFields(Protocol):
    """What a KPI line reads of a KPI: a Kpi, or a row of `_KPI_SERIES`."""

    id: int | None
    name: str
    unit: str
    direction: str
    target: float
    warn: float | None


class MeasurementFields(Protocol):
    """What a KPI line reads of a measurement: a KpiMeasurement, or a row of `_KPI_SERIES`."""

    period: str
    value: float


_KpiT = TypeVar("_KpiT", bound=KpiFields)


def kpi_lines(
    rows: Iterable[tuple[_KpiT, MeasurementFields | None]],
) -> list[tuple[_KpiT, KpiLine | None]]:
    """Rows of (KPI, measurement) in period order -> each KPI with its line (the latest
    measurement of a period counts)."""
    series: dict[int, tuple[_KpiT, dict[str, float]]] = {}
    for kpi, measurement in rows:
        values = series.setdefault(kpi.id or 0, (kpi, {}))[1]
        if measurement is not None:
            values[measurement.period] = measurement.value
    return [(kpi, _kpi_line(kpi, values)) for kpi, values in series.values()]


def _kpi_pairs(rows: Iterable[Row[Any]]) -> Iterator[tuple[Row[Any], Row[Any] | None]]:
    """Rows of `_KPI_SERIES` as `kpi_lines` reads them: each is the KPI and its measurement."""
    return ((row, row if row.period is not None else None) for row in rows)


def _kpi_line(kpi: KpiFields, by_period: dict[str, float]) -> KpiLine | None:
    if not by_period:
        return None
    periods = sorted(by_period)[-KPI_PERIODS:]
    values = tuple(by_period[period] for period in periods)
    status = kpi_status(values[-1], target=kpi.target, warn=kpi.warn, direction=kpi.direction)
    return KpiLine(
        name=kpi.name,
        unit=kpi.unit,
        target=kpi.target,
        warn=kpi.warn,
        status=status,
        periods=tuple(periods),
        values=values,
        trend=trend(values, kpi.direction),
    )


def _moves(rows: Iterable[Row[Any]]) -> tuple[InitiativeMove, ...]:
    """Initiatives whose status differs from the window's start (several moves count as one)."""
    first: dict[int, InitiativeMove] = {}
    for row in rows:
        known = first.get(row.initiative_id)
        before = known.before if known else row.old_status
        first[row.initiative_id] = InitiativeMove(
            row.title, f"KR-{row.number}", before, row.new_status
        )
    return tuple(move for move in first.values() if move.before != move.after)


def _recipients(loaded: _Loaded) -> tuple[Recipient, ...]:
    """The team's managers, then its channel if it has one."""
    managers = [Recipient(p.user_id, p.locale) for p in loaded.people if p.role == Role.MANAGER]
    channel = loaded.team.channel_id
    return tuple(managers + ([Recipient(channel, None, is_channel=True)] if channel else []))


async def get_team(*, database: Database, team_id: int) -> Team | None:
    """A team by id, for the digest jobs' schedule and timezone."""
    async with database.read() as session:
        return await session.get(Team, team_id)


async def digest_teams(*, database: Database, workspace_id: str) -> list[tuple[int, str]]:
    """The (id, name) of each team with a digest schedule, by name."""
    async with database.read() as session:
        query = (
            select(Team.id, Team.name)
            .where(Team.workspace_id == workspace_id, col(Team.digest_schedule).is_not(None))
            .order_by(col(Team.name))
        )
        return [(team_id or 0, name) for team_id, name in (await session.exec(query)).all()]


async def team_of_round(*, database: Database, round_id: int) -> int | None:
    """The team a check-in round belongs to."""
    async with database.read() as session:
        checkin = await session.get(CheckinRound, round_id)
    return checkin.team_id if checkin else None


# -- claims


async def claim_digest(
    *, database: Database, digest: Digest, period: str, recipient: str, round_id: int | None
) -> int | None:
    """Claim the right to send this digest to `recipient`; None when it was claimed before."""
    claim = DigestSent(
        workspace_id=digest.workspace_id,
        team_id=digest.team_id,
        period=period,
        manager_id=recipient,
        round_id=round_id,
        snapshot=digest.snapshot(),
    )
    try:
        async with database.session() as session:
            session.add(claim)
    except IntegrityError:
        return None  # someone (another run, another replica) holds this claim already
    return claim.id


async def mark_sent(*, database: Database, claim_id: int, message_ts: str | None) -> None:
    """Record that a claimed digest reached Slack; later digests compare against it."""
    async with database.session() as session:
        claim = await session.get(DigestSent, claim_id)
        if claim is not None:
            claim.sent_at, claim.message_ts = utcnow(), message_ts
            session.add(claim)
            await _digest_sent(session, claim)


async def _digest_sent(session: AsyncSession, claim: DigestSent) -> None:
    """The `digest.sent` webhook event, queued with the mark that the digest was sent."""
    team = await session.get(Team, claim.team_id)
    data = {
        "team": team.name if team else None,
        "period": claim.period,
        "recipient": claim.manager_id,
        "round_id": claim.round_id,
        "message_ts": claim.message_ts,
        "snapshot": claim.snapshot,
    }
    await record_event(session, workspace_id=claim.workspace_id, event="digest.sent", data=data)


async def release_claim(*, database: Database, claim_id: int) -> None:
    """Give a claim back after Slack refused the digest, so a later run may send it."""
    async with database.session() as session:
        claim = await session.get(DigestSent, claim_id)
        if claim is not None:
            await session.delete(claim)
