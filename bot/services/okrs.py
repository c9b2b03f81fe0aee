"""Reading OKRs for people: which team a request means, and where its objectives stand."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, case, func, true
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import ProgressFrom
from bot.errors import InvalidInput, NotFound
from bot.i18n import N_
from bot.progress import (
    Aligned,
    KrStatus,
    expected_progress,
    is_exceeded,
    kr_progress,
    kr_status,
    rollup,
    weighted_mean,
)
from bot.services.webhooks import any_webhook, note_webhooks
from storage.db import Database, column_rows, keep
from storage.models import (
    Cycle,
    Initiative,
    KeyResult,
    KrUpdate,
    Membership,
    Objective,
    Team,
)


@dataclass(frozen=True)
class KrView:
    """A key result as a summary shows it."""

    id: int
    number: int
    title: str
    owner_id: str | None
    start: float
    target: float
    current: float
    unit: str
    weight: float
    progress: float
    exceeded: bool
    status: KrStatus
    confidence: int | None

    @property
    def short_id(self) -> str:
        return f"KR-{self.number}"


@dataclass(frozen=True)
class ObjectiveView:
    """An objective as `/okr status` shows it: `progress` is None when it has nothing to
    average (shown `—`); `serves` is the title of the objective it is aligned to."""

    title: str
    owner_id: str | None
    progress: float | None
    key_results: tuple[KrView, ...]
    id: int = 0
    serves: str | None = None
    serves_id: int | None = None

    @property
    def short_id(self) -> str:
        return f"O-{self.id}"


@dataclass(frozen=True)
class TeamStatus:
    """Where one team's objectives stand in the current cycle. Hashed once, when made: the
    blocks of a status are kept per status (bot/blocks/status.py), and hashing every KR of it
    on each `/okr status` cost more than building the answer around them."""

    team_id: int
    team_name: str
    cycle_name: str | None
    expected: float
    objectives: tuple[ObjectiveView, ...]
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (self.team_id, self.team_name, self.cycle_name, self.expected, self.objectives)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash


def current_cycle_query(workspace_id: Any, today: Any) -> Select:
    """The cycle running today; else the latest that has started; else the next to start."""
    started = col(Cycle.start) <= today
    running = col(Cycle.end) >= today
    return (
        select(Cycle)
        .where(Cycle.workspace_id == workspace_id)
        .order_by(
            started.desc(),
            running.desc(),
            case((started, col(Cycle.start))).desc(),
            col(Cycle.start),
        )
        .limit(1)
    )


# Prebuilt with bound parameters: every write asks for it, and building it cost more than
# running it.
_CURRENT_CYCLE = current_cycle_query(bindparam("workspace_id"), bindparam("today"))


async def current_cycle(session: AsyncSession, workspace_id: str, today: dt.date) -> Cycle | None:
    """The cycle people mean by "now" (see `current_cycle_query`)."""
    params = {"workspace_id": workspace_id, "today": today}
    return (await session.exec(_CURRENT_CYCLE, params=params)).first()  # type: ignore[call-overload]


class KrFields(Protocol):
    """What a KR summary reads: a KeyResult, or a row of KR_COLUMNS."""

    id: int | None
    number: int
    title: str
    owner_id: str | None
    start: float
    target: float
    current: float
    unit: str
    weight: float
    confidence: int | None
    status: str | None
    final_status: str | None


KR_COLUMNS = (
    KeyResult.id,
    KeyResult.objective_id,
    KeyResult.number,
    KeyResult.title,
    KeyResult.owner_id,
    KeyResult.start,
    KeyResult.target,
    KeyResult.current,
    KeyResult.unit,
    KeyResult.weight,
    KeyResult.confidence,
    KeyResult.status,
    KeyResult.final_status,
)


def kr_standing(kr: KrFields, expected: float) -> tuple[float, bool, KrStatus]:
    """A KR's progress, whether it went past its target, and its status."""
    progress = kr_progress(kr.start, kr.target, kr.current)
    # A closed KR shows the status frozen when its cycle closed.
    explicit = kr.final_status or kr.status
    status = kr_status(progress, expected, confidence=kr.confidence, explicit=explicit)
    return progress, is_exceeded(kr.start, kr.target, kr.current), status


def kr_view(kr: KrFields, expected: float) -> KrView:
    progress, exceeded, status = kr_standing(kr, expected)
    return KrView(
        id=kr.id or 0,
        number=kr.number,
        title=kr.title,
        owner_id=kr.owner_id,
        start=kr.start,
        target=kr.target,
        current=kr.current,
        unit=kr.unit,
        weight=kr.weight,
        progress=progress,
        exceeded=exceeded,
        status=status,
        confidence=kr.confidence,
    )


async def find_teams(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    channel_id: str | None = None,
    name: str | None = None,
) -> list[Team]:
    """The teams a request means: the named team, else the channel's, else the caller's."""
    async with database.read() as session:
        return await _find_teams(session, workspace_id, user_id, channel_id, name)


_TEAMS = select(Team).where(Team.workspace_id == bindparam("workspace_id")).order_by(col(Team.name))
# Prebuilt with bound parameters, like the status query: they run on every `/okr status`.
_TEAMS_OF_CHANNEL = _TEAMS.where(Team.channel_id == bindparam("channel_id"))
_TEAMS_OF_USER = _TEAMS.where(
    col(Team.id).in_(select(Membership.team_id).where(Membership.user_id == bindparam("user_id")))
)


async def _find_teams(
    session: AsyncSession, workspace_id: str, user_id: str, channel_id: str | None, name: str | None
) -> list[Team]:
    params = {"workspace_id": workspace_id}
    if name:
        wanted = name.strip().lower()
        found = (
            await session.exec(_TEAMS.where(func.lower(Team.name) == wanted), params=params)
        ).all()  # type: ignore[call-overload]
        if not found:
            query = _TEAMS.where(func.lower(Team.name).contains(wanted))
            found = (await session.exec(query, params=params)).all()  # type: ignore[call-overload]
        return list(found)
    if channel_id:
        query = _TEAMS_OF_CHANNEL
        found = (await session.exec(query, params={**params, "channel_id": channel_id})).all()  # type: ignore[call-overload]
        if found:
            return list(found)
    rows = await session.exec(_TEAMS_OF_USER, params={**params, "user_id": user_id})  # type: ignore[call-overload]
    return list(rows.all())


async def status_for(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    channel_id: str | None,
    name: str | None,
    now: dt.datetime,
) -> list[TeamStatus]:
    """`/okr status [team] [cycle]`: the named team, else the channel's, else the caller's
    teams, and where they stand in the current cycle or the one named (`2026-Q3`). In a team
    channel (the usual case) this is a single statement; the same question asked again in
    the same minute, with nothing written since, only reads the data version."""
    params: dict[str, Any] = {"workspace_id": workspace_id, "today": now.date()}
    statements = _STATUS_NOW
    minute = now.replace(second=0, microsecond=0)
    asked = ("okr status", workspace_id, user_id, channel_id, name, minute)
    version = await database.data_version()
    kept = database.memo.get(asked, version)
    if kept is not None:
        return list(kept)  # nothing was written since the same question was answered
    async with database.read() as session:
        if name:
            name, cycle_name = await _split_cycle(session, workspace_id, name)
            if cycle_name is not None:
                statements, params["cycle_name"] = _STATUS_IN_CYCLE, cycle_name
        if name:
            teams = await _find_teams(session, workspace_id, user_id, None, name)
            params["team_ids"] = [team.id for team in teams]
            rows = await column_rows(session, statements["teams"], params) if teams else []
        else:
            rows: Sequence[Any] = []
            if channel_id:
                params["channel_id"] = channel_id
                rows = await column_rows(session, statements["channel"], params)
            if not rows:
                params["user_id"] = user_id
                rows = await column_rows(session, statements["user"], params)
        rolled = await _rolled_up_if_needed(session, rows, params)
    statuses = _assemble(rows, minute, rolled)
    database.memo.put(asked, version, tuple(statuses))
    return statuses


async def _split_cycle(
    session: AsyncSession, workspace_id: str, words: str
) -> tuple[str | None, str | None]:
    """`Sales 2026-Q3` -> (`Sales`, `2026-Q3`) when the last word names a cycle; `2026-Q3`
    alone -> (None, `2026-Q3`); otherwise the words are all a team's name."""
    head, _, last = words.strip().rpartition(" ")
    query = select(Cycle.name).where(Cycle.workspace_id == workspace_id)
    names = {name.casefold(): name for name in (await session.exec(query)).all()}
    cycle = names.get(last.casefold())
    if cycle is None:
        return words, None
    return head.strip() or None, cycle


async def team_status(
    *,
    database: Database,
    workspace_id: str,
    teams: Sequence[Team],
    now: dt.datetime,
    cycle_name: str | None = None,
) -> list[TeamStatus]:
    """Objectives and KRs of each team in the current cycle, or in the cycle named."""
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "today": now.date(),
        "team_ids": [t.id for t in teams],
    }
    statements = _STATUS_NOW
    if cycle_name:
        statements, params["cycle_name"] = _STATUS_IN_CYCLE, cycle_name
    async with database.read() as session:
        if cycle_name:
            named = select(Cycle.id).where(
                Cycle.workspace_id == workspace_id, Cycle.name == cycle_name
            )
            if (await session.exec(named)).first() is None:
                raise NotFound(what=f"cycle {cycle_name}")
        rows = (await session.exec(statements["teams"], params=params)).all()  # type: ignore[call-overload]
        rolled = await _rolled_up_if_needed(session, rows, params)
    return _assemble(rows, now, rolled)


async def _rolled_up_if_needed(
    session: AsyncSession, rows: Sequence[Any], params: dict[str, Any]
) -> tuple[tuple[int, float | None], ...]:
    """Most objectives take their progress from their own KRs, which the status rows hold.
    Only when one rolls up the objectives serving it is the cycle's tree read: one more
    statement, whatever the number of objectives."""
    if all(row.o_progress_from in (None, ProgressFrom.KRS) for row in rows):
        return ()
    tree = _TREE_ROWS_OF_CYCLE if "cycle_name" in params else TREE_ROWS
    cycle = {key: params[key] for key in ("workspace_id", "today", "cycle_name") if key in params}
    tree_rows = await column_rows(session, tree, cycle)
    return tuple(sorted(rollup(aligned_objectives(tree_rows)).items()))


def _cycle_cte(named: bool) -> Any:
    """The cycle a statement reads: the current one, or the one named `cycle_name`."""
    if named:
        query = select(Cycle).where(
            Cycle.workspace_id == bindparam("workspace_id"), Cycle.name == bindparam("cycle_name")
        )
    else:
        query = current_cycle_query(bindparam("workspace_id"), bindparam("today"))
    return query.cte("cycle_now")


def _status_query(which_teams: Any, *, named_cycle: bool = False) -> Select:
    """Teams, the current cycle, their objectives in it and their KRs, in one statement.

    Built once with bound parameters: `/okr status` is the hottest read in the product, and
    SQLAlchemy then skips re-building and re-compiling it on every request. KR columns keep
    their names so a row reads like a KeyResult (`KrFields`); the others are prefixed.
    """
    cycle = _cycle_cte(named_cycle)
    objective = (Objective.id, Objective.title, Objective.owner_id, Objective.progress_from)
    parent = aliased(Objective)
    return (
        select(
            col(Team.id).label("t_id"),
            col(Team.name).label("t_name"),
            *KR_COLUMNS,
            *[column.label(f"o_{column.key}") for column in objective],
            col(parent.id).label("p_id"),
            col(parent.title).label("p_title"),
            cycle.c.name.label("cycle_name"),
            cycle.c.start.label("cycle_start"),
            cycle.c.end.label("cycle_end"),
        )
        .select_from(Team)
        .outerjoin(cycle, true())
        .outerjoin(
            Objective, (col(Objective.cycle_id) == cycle.c.id) & (col(Objective.team_id) == Team.id)
        )
        .outerjoin(parent, col(parent.id) == Objective.parent_id)
        .outerjoin(KeyResult, col(KeyResult.objective_id) == Objective.id)
        .where(Team.workspace_id == bindparam("workspace_id"), which_teams)
        .order_by(
            col(Team.name),
            col(Objective.position),
            col(Objective.id),
            col(KeyResult.position),
            col(KeyResult.id),
        )
    )


def _tree_query(*, named_cycle: bool = False) -> Select:
    """Every objective of the cycle with its team and its KRs' numbers, one row per KR (or one
    for an objective without KRs): what the roll-up and `/okr tree` read."""
    cycle = _cycle_cte(named_cycle)
    return (
        select(
            col(Objective.id).label("o_id"),
            col(Objective.parent_id).label("o_parent_id"),
            col(Objective.weight).label("o_weight"),
            col(Objective.progress_from).label("o_progress_from"),
            col(Objective.title).label("o_title"),
            col(Objective.owner_id).label("o_owner_id"),
            col(Objective.position).label("o_position"),
            col(Team.id).label("t_id"),
            col(Team.name).label("t_name"),
            col(Team.level).label("t_level"),
            col(KeyResult.id).label("kr_id"),
            KeyResult.start,
            KeyResult.target,
            KeyResult.current,
            KeyResult.weight,
            cycle.c.name.label("cycle_name"),
            cycle.c.start.label("cycle_start"),
            cycle.c.end.label("cycle_end"),
        )
        .select_from(cycle)
        .join(Objective, col(Objective.cycle_id) == cycle.c.id)
        .join(Team, col(Team.id) == Objective.team_id)
        .outerjoin(KeyResult, col(KeyResult.objective_id) == Objective.id)
        .order_by(col(Objective.id), col(KeyResult.position), col(KeyResult.id))
    )


TREE_ROWS = _tree_query()
_TREE_ROWS_OF_CYCLE = _tree_query(named_cycle=True)


def aligned_objectives(rows: Sequence[Any]) -> list[Aligned]:
    """Tree rows as the roll-up's input: each objective with its KRs' (progress, weight)."""
    krs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    first: dict[int, Any] = {}
    for row in rows:
        first.setdefault(row.o_id, row)
        if row.kr_id is not None:
            krs[row.o_id].append((kr_progress(row.start, row.target, row.current), row.weight))
    return [
        Aligned(o_id, row.o_parent_id, row.o_weight, row.o_progress_from, tuple(krs[o_id]))
        for o_id, row in first.items()
    ]


_OF_TEAMS = col(Team.id).in_(bindparam("team_ids", expanding=True))
_OF_CHANNEL = Team.channel_id == bindparam("channel_id")
_OF_USER = col(Team.id).in_(
    select(Membership.team_id).where(Membership.user_id == bindparam("user_id"))
)
_STATUS_OF_TEAMS = _status_query(_OF_TEAMS)
_STATUS_OF_CHANNEL = _status_query(_OF_CHANNEL)
_STATUS_OF_USER = _status_query(_OF_USER)
_STATUS_NOW = {"teams": _STATUS_OF_TEAMS, "channel": _STATUS_OF_CHANNEL, "user": _STATUS_OF_USER}
# The same for a cycle named by the caller (`/okr status Sales 2026-Q3`): not the hot path.
_STATUS_IN_CYCLE = {
    "teams": _status_query(_OF_TEAMS, named_cycle=True),
    "channel": _status_query(_OF_CHANNEL, named_cycle=True),
    "user": _status_query(_OF_USER, named_cycle=True),
}


def _assemble(
    rows: Sequence[Any], now: dt.datetime, rolled: tuple[tuple[int, float | None], ...] = ()
) -> list[TeamStatus]:
    """Rows of (team, KR, objective, parent, cycle) into each team's objectives with their KR
    views; `rolled` holds the cycle's roll-up when an objective needs it.

    Building the views is most of what a status costs, and most statuses are asked of data
    that has not changed: the same rows in the same minute give the same views, kept."""
    if not rows:
        return []
    return list(_assemble_rows(tuple(rows), now.replace(second=0, microsecond=0), rolled))


@lru_cache(maxsize=256)
def _assemble_rows(
    rows: tuple[Any, ...], now: dt.datetime, rolled: tuple[tuple[int, float | None], ...]
) -> tuple[TeamStatus, ...]:
    first = rows[0]
    cycle_name = first.cycle_name
    expected = expected_progress(first.cycle_start, first.cycle_end, now) if cycle_name else 0.0
    teams: dict[int, str] = {}
    objectives: dict[int, tuple[int, Any]] = {}
    krs: dict[int, list[KrView]] = defaultdict(list)
    for row in rows:
        teams.setdefault(row.t_id, row.t_name)
        if row.o_id is None:
            continue  # a team without objectives in this cycle
        objectives.setdefault(row.o_id, (row.t_id, row))
        if row.id is not None:
            krs[row.o_id].append(kr_view(row, expected))
    by_team: dict[int, list[ObjectiveView]] = defaultdict(list)
    progress_of = dict(rolled)
    for objective_id, (team_id, row) in objectives.items():
        views = tuple(krs[objective_id])
        if objective_id in progress_of:
            progress = progress_of[objective_id]
        else:
            progress = weighted_mean((kr.progress, kr.weight) for kr in views)
        by_team[team_id].append(
            ObjectiveView(
                row.o_title, row.o_owner_id, progress, views, objective_id, row.p_title, row.p_id
            )
        )
    return tuple(
        TeamStatus(team_id, name, cycle_name, expected, tuple(by_team[team_id]))
        for team_id, name in teams.items()
    )


async def teams_by_id(*, database: Database, workspace_id: str, team_ids: set[int]) -> list[Team]:
    """The workspace's teams with these ids, by name."""
    async with database.read() as session:
        query = select(Team).where(Team.workspace_id == workspace_id, col(Team.id).in_(team_ids))
        return list((await session.exec(query.order_by(col(Team.name)))).all())


# Prebuilt: `/okr update KR-7` runs it on every update. The KR's objective and cycle come in
# the same row, so that the update that follows finds them in its session, not in a query.
_KR_BY_NUMBER = (
    select(KeyResult, Objective, Cycle, any_webhook(KeyResult.workspace_id))
    .join(Objective, col(Objective.id) == KeyResult.objective_id)
    .join(Cycle, col(Cycle.id) == Objective.cycle_id)
    .where(
        KeyResult.workspace_id == bindparam("workspace_id"),
        KeyResult.number == bindparam("number"),
    )
)
_KR_REF = re.compile(r"^(?:kr[-\s#]?|#)?(\d+)$", re.IGNORECASE)
_ROW_ID = re.compile(r"^[0-9]{1,9}$")


def is_row_id(ref: str) -> bool:
    """A reference that is a row id: ASCII digits that fit any database's integer."""
    return _ROW_ID.match(ref) is not None


def _matches(kr: KeyResult, ref: str) -> bool:
    ref = ref.casefold()
    return ref in (alias.casefold() for alias in kr.aliases) or ref in kr.title.casefold()


async def find_kr(*, database: Database, workspace_id: str, ref: str, user_id: str) -> KeyResult:
    """The KR a person means: `KR-7`, `7`, an alias or words of its title.

    Among several matches, the caller's own KRs win; still several is an error listing them.
    """
    async with database.read() as session:
        return await find_kr_in(session, workspace_id, ref, user_id)


async def find_kr_in(session: AsyncSession, workspace_id: str, ref: str, user_id: str) -> KeyResult:
    """`find_kr` inside the caller's unit of work."""
    ref = ref.strip()
    number = _KR_REF.match(ref)
    if number and len(number.group(1)) > 9:
        raise NotFound(what=ref)  # no KR has such a number, and no integer column holds it
    if number:
        params = {"workspace_id": workspace_id, "number": int(number.group(1))}
        rows = (await session.exec(_KR_BY_NUMBER, params=params)).all()  # type: ignore[call-overload]
        found = []
        for kr, objective, cycle, webhooks in rows:  # the write path takes them from the unit
            keep(session, (kr, objective, cycle))
            note_webhooks(session, workspace_id, webhooks)
            found.append(kr)
    else:
        rows = await session.exec(select(KeyResult).where(KeyResult.workspace_id == workspace_id))
        found = [kr for kr in rows.all() if ref and _matches(kr, ref)]
    if len(found) > 1:
        # A KR carried over keeps its aliases and title: the open one is meant, not the closed.
        found = [kr for kr in found if kr.closed_at is None] or found
    if len(found) > 1:
        found = [kr for kr in found if kr.owner_id == user_id] or found
    if not found:
        raise NotFound(what=ref or "?")
    if len(found) > 1:
        ids = ", ".join(f"KR-{kr.number}" for kr in sorted(found, key=lambda kr: kr.number))
        raise InvalidInput(N_("`{ref}` could mean {ids}; say which one."), ref=ref, ids=ids)
    return found[0]


@dataclass(frozen=True)
class InitiativeView:
    id: int
    title: str
    status: str
    kr_short_id: str


@dataclass(frozen=True)
class Mine:
    """What one person owns in the current cycle."""

    key_results: tuple[KrView, ...]
    initiatives: tuple[InitiativeView, ...]
    expected: float


async def my_items(
    *, database: Database, workspace_id: str, user_id: str, now: dt.datetime
) -> Mine:
    """The caller's KRs and initiatives in the current cycle: three queries."""
    async with database.read() as session:
        cycle = await current_cycle(session, workspace_id, now.date())
        if cycle is None:
            return Mine((), (), 0.0)
        in_cycle = select(Objective.id).where(Objective.cycle_id == cycle.id)
        krs = (
            await session.exec(
                select(KeyResult)
                .where(col(KeyResult.objective_id).in_(in_cycle), KeyResult.owner_id == user_id)
                .order_by(col(KeyResult.number))
            )
        ).all()
        rows = (
            await session.exec(
                select(Initiative, KeyResult.number)
                .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
                .where(col(KeyResult.objective_id).in_(in_cycle), Initiative.owner_id == user_id)
                .order_by(col(Initiative.id))
            )
        ).all()
    expected = expected_progress(cycle.start, cycle.end, now)
    initiatives = tuple(InitiativeView(i.id or 0, i.title, i.status, f"KR-{n}") for i, n in rows)
    return Mine(tuple(kr_view(kr, expected) for kr in krs), initiatives, expected)


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    author_id: str | None
    source: str
    old: float | None
    new: float | None
    confidence: int | None
    status: str | None
    note: str | None
    reverted: bool


async def kr_history(
    *, database: Database, kr: KeyResult, limit: int = 25
) -> tuple[list[HistoryEntry], int]:
    """The latest changes to a KR (newest first) and how many there are in all."""
    async with database.read() as session:
        total = (
            await session.exec(
                select(func.count()).select_from(KrUpdate).where(KrUpdate.kr_id == kr.id)
            )
        ).one()
        rows = (
            await session.exec(
                select(KrUpdate)
                .where(KrUpdate.kr_id == kr.id)
                .order_by(col(KrUpdate.created_at).desc(), col(KrUpdate.id).desc())
                .limit(limit)
            )
        ).all()
    entries = [
        HistoryEntry(
            row.created_at,
            row.author_id,
            row.source,
            row.old_value,
            row.new_value,
            row.confidence,
            row.status,
            row.note,
            row.reverted,
        )
        for row in rows
    ]
    return entries, int(total)


async def get_kr(*, database: Database, workspace_id: str, kr_id: int) -> KeyResult:
    """One KR of the workspace, by id."""
    async with database.read() as session:
        kr = await session.get(KeyResult, kr_id)
    if kr is None or kr.workspace_id != workspace_id:
        raise NotFound(what=f"KR #{kr_id}")
    return kr


async def all_teams(*, database: Database, workspace_id: str) -> list[Team]:
    """Every team of the workspace, by name."""
    async with database.read() as session:
        return list((await session.exec(_TEAMS, params={"workspace_id": workspace_id})).all())  # type: ignore[call-overload]


async def team_by_ref(*, database: Database, workspace_id: str, ref: str) -> Team:
    """A team by id (`3`) or by its name, ignoring case."""
    async with database.read() as session:
        if is_row_id(ref):
            team = await session.get(Team, int(ref))
        else:
            query = _TEAMS.where(func.lower(Team.name) == ref.strip().lower())
            team = (await session.exec(query, params={"workspace_id": workspace_id})).first()  # type: ignore[call-overload]
    if team is None or team.workspace_id != workspace_id:
        raise NotFound(what=f"team {ref}")
    return team
