"""`/okr tree`: the current cycle's objectives as the organisation aligns them (SPEC §8).

One statement reads the cycle's objectives, teams and KR numbers; the roll-up and the shape of
the tree are computed here, in plain Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from bot.alignment import objective_number
from bot.domain import Level
from bot.errors import NotFound
from bot.progress import KrStatus, expected_progress, objective_status, rollup
from bot.services.okrs import TREE_ROWS, aligned_objectives
from storage.db import Database
from storage.models import Team

_LEVEL_ORDER = {Level.COMPANY: 0, Level.DEPARTMENT: 1, Level.TEAM: 2}


@dataclass(frozen=True)
class TreeObjective:
    """One objective of the tree: `progress` is None when it has nothing to average."""

    id: int
    title: str
    owner_id: str | None
    team_name: str
    level: str
    progress: float | None
    status: KrStatus | None

    @property
    def short_id(self) -> str:
        return f"O-{self.id}"


@dataclass(frozen=True)
class Tree:
    """The objectives shown from `roots` down; `children` in display order."""

    cycle_name: str | None
    expected: float
    scope: str | None
    objectives: dict[int, TreeObjective]
    roots: tuple[int, ...]
    children: dict[int, tuple[int, ...]]

    def size(self) -> int:
        """How many objectives are under the roots, the roots included."""
        count, stack = 0, list(self.roots)
        while stack:
            count += 1
            stack.extend(self.children.get(stack.pop(), ()))
        return count


async def tree_for(
    *, database: Database, workspace_id: str, ref: str | None, now: dt.datetime
) -> Tree:
    """The tree from the top, or from a team's objectives (`Sales`), or from one (`O-3`) down."""
    params = {"workspace_id": workspace_id, "today": now.date()}
    async with database.read() as session:
        rows = (await session.exec(TREE_ROWS, params=params)).all()  # type: ignore[call-overload]
        team_ids: set[int] | None = None
        if ref and objective_number(ref) is None:
            team_ids = await _team_ids(session, workspace_id, ref)
    return _shape(rows, now, ref, team_ids)


async def _team_ids(session: Any, workspace_id: str, name: str) -> set[int]:
    wanted = name.strip().lower()
    query = select(Team.id).where(Team.workspace_id == workspace_id)
    found = set((await session.exec(query.where(func.lower(Team.name) == wanted))).all())
    if not found:
        found = set((await session.exec(query.where(func.lower(Team.name).contains(wanted)))).all())
    if not found:
        raise NotFound(what=name)
    return found


def _shape(
    rows: Sequence[Any], now: dt.datetime, ref: str | None, team_ids: set[int] | None
) -> Tree:
    first = rows[0] if rows else None
    expected = expected_progress(first.cycle_start, first.cycle_end, now) if first else 0.0
    progress = rollup(aligned_objectives(rows))
    heads: dict[int, Any] = {}
    for row in rows:
        heads.setdefault(row.o_id, row)
    objectives = {
        o_id: TreeObjective(
            o_id,
            row.o_title,
            row.o_owner_id,
            row.t_name,
            row.t_level,
            progress[o_id],
            objective_status(progress[o_id], expected),
        )
        for o_id, row in heads.items()
    }
    order = sorted(
        heads.values(),
        key=lambda r: (_LEVEL_ORDER.get(r.t_level, 3), r.t_name, r.o_position, r.o_id),
    )
    children: dict[int, list[int]] = defaultdict(list)
    for row in order:
        if row.o_parent_id in heads:
            children[row.o_parent_id].append(row.o_id)
    roots = _roots(order, heads, ref, team_ids)
    return Tree(
        first.cycle_name if first else None,
        expected,
        ref,
        objectives,
        roots,
        {o_id: tuple(ids) for o_id, ids in children.items()},
    )


def _roots(
    order: Sequence[Any], heads: dict[int, Any], ref: str | None, team_ids: set[int] | None
) -> tuple[int, ...]:
    number = objective_number(ref) if ref else None
    if number is not None:
        if number not in heads:
            raise NotFound(what=f"O-{number}")
        return (number,)
    if team_ids is not None:
        # A team's objectives, except those serving another of its own (shown under it).
        mine = {row.o_id for row in order if row.t_id in team_ids}
        return tuple(r.o_id for r in order if r.o_id in mine and r.o_parent_id not in mine)
    return tuple(row.o_id for row in order if row.o_parent_id not in heads)
