"""Who serves whom (SPEC §8), for the import: parents named in a file, resolved against the file
and what the workspace already holds, with loops and parents in another cycle refused.

Pure: the import service hands in what the database knows as plain values. A file objective is
the same objective as a stored one when team, cycle and title match (the import's natural key),
so a file may re-parent stored objectives, and a loop can run through both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import Problem

_OBJECTIVE_ID = re.compile(r"^O-(\d+)$", re.IGNORECASE)


def objective_number(ref: str) -> int | None:
    """`O-3` -> 3; anything else is a title."""
    match = _OBJECTIVE_ID.match(ref.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class StoredObjective:
    """An objective the workspace already has, as the parent check needs it."""

    id: int
    title: str
    team: str
    cycle: str
    parent_id: int | None


@dataclass(frozen=True)
class FileObjective:
    """An objective of the file: its natural key and the parent it names (if any)."""

    title: str
    team: str
    cycle: str
    parent: str | None


# A node of the merged graph: ("file", index in the file) or ("stored", objective id).
Node = tuple[str, int]


@dataclass(frozen=True)
class Resolved:
    """Each file objective's parent (None: it serves nothing), and what was wrong."""

    parents: dict[int, Node | None]
    problems: list[Problem]


def resolve_objective_parents(
    objectives: Sequence[FileObjective], stored: Iterable[StoredObjective]
) -> Resolved:
    """Resolve every `parent:` of the file, then refuse loops in the resulting graph."""
    graph = _Graph(objectives, list(stored))
    parents: dict[int, Node | None] = {}
    problems: list[Problem] = []
    for index, objective in enumerate(objectives):
        if objective.parent is None:
            parents[index] = None
            continue
        target, reason = graph.resolve(objective)
        if reason:
            problems.append(Problem(f"objectives[{index}].parent", reason))
        parents[index] = target
    if not problems:
        problems = graph.loops(parents)
    return Resolved(parents, problems)


class _Graph:
    def __init__(self, objectives: Sequence[FileObjective], stored: list[StoredObjective]) -> None:
        self.objectives = objectives
        self.stored = {row.id: row for row in stored}
        keys = {(o.team, o.cycle, o.title): index for index, o in enumerate(objectives)}
        # A stored objective the file names again is that file node.
        self.alias: dict[int, Node] = {
            row.id: ("file", keys[(row.team, row.cycle, row.title)])
            for row in stored
            if (row.team, row.cycle, row.title) in keys
        }

    def node_of_stored(self, objective_id: int) -> Node:
        return self.alias.get(objective_id, ("stored", objective_id))

    def label(self, node: Node) -> str:
        kind, key = node
        return self.objectives[key].title if kind == "file" else self.stored[key].title

    def resolve(self, objective: FileObjective) -> tuple[Node | None, str | None]:
        ref = objective.parent or ""
        number = objective_number(ref)
        if number is not None:
            row = self.stored.get(number)
            if row is None:
                return None, f"no objective O-{number} in this workspace"
            if row.cycle != objective.cycle:
                return None, _other_cycle(f"O-{number}", row.cycle, objective.cycle)
            return self.node_of_stored(number), None
        return self._by_title(ref, objective.cycle)

    def _by_title(self, title: str, cycle: str) -> tuple[Node | None, str | None]:
        found: dict[Node, str] = {}
        for index, other in enumerate(self.objectives):
            if other.cycle == cycle and other.title == title:
                found[("file", index)] = other.team
        for row in self.stored.values():
            if row.cycle == cycle and row.title == title:
                found.setdefault(self.node_of_stored(row.id), row.team)
        if len(found) == 1:
            return next(iter(found)), None
        if found:
            teams = ", ".join(sorted(found.values()))
            return None, f"{title!r} is an objective of several teams ({teams}): name it O-n"
        elsewhere = sorted(
            {row.cycle for row in self.stored.values() if row.title == title}
            | {other.cycle for other in self.objectives if other.title == title}
        )
        if elsewhere:
            return None, _other_cycle(repr(title), elsewhere[0], cycle)
        return None, f"unknown objective {title!r} in cycle {cycle}"

    def parent_of(self, node: Node, parents: Mapping[int, Node | None]) -> Node | None:
        kind, key = node
        if kind == "file":
            return parents.get(key)
        parent_id = self.stored[key].parent_id
        return (
            None
            if parent_id is None or parent_id not in self.stored
            else self.node_of_stored(parent_id)
        )

    def loops(self, parents: Mapping[int, Node | None]) -> list[Problem]:
        """A loop is reported once, at the first objective of the file that is on it."""
        problems: list[Problem] = []
        reported: set[Node] = set()
        for index in range(len(self.objectives)):
            start: Node = ("file", index)
            path = [start]
            node = self.parent_of(start, parents)
            while node is not None and node not in path:
                path.append(node)
                node = self.parent_of(node, parents)
            if node != start or start in reported:
                continue
            reported.update(path)
            names = " → ".join(self.label(step) for step in [*path, start])
            problems.append(Problem(f"objectives[{index}].parent", f"would make a loop: {names}"))
        return problems


def _other_cycle(what: str, theirs: str, ours: str) -> str:
    return f"{what} is in cycle {theirs}, not {ours}: a parent must be of the same cycle"


def resolve_team_parents(
    teams: Sequence[tuple[str, str | None]], stored: Mapping[str, str | None]
) -> list[Problem]:
    """Each file team's `parent:` must be a team (of the file or stored) and make no loop.

    `teams` are the file's (name, parent) pairs; `stored` maps stored team names to theirs."""
    parent_of = dict(stored)
    parent_of.update(teams)
    problems: list[Problem] = []
    reported: set[str] = set()
    for index, (name, parent) in enumerate(teams):
        if parent is None:
            continue
        if parent not in parent_of:
            problems.append(Problem(f"teams[{index}].parent", f"unknown team {parent!r}"))
            continue
        path = [name]
        current: str | None = parent
        while current is not None and current not in path:
            path.append(current)
            current = parent_of.get(current)
        if current == name and name not in reported:
            reported.update(path)
            problems.append(
                Problem(f"teams[{index}].parent", "would make a loop: " + " → ".join([*path, name]))
            )
    return problems
