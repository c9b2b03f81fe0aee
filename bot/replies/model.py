"""What a reply is read against and what reading it gives: items, updates, readings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ItemKind = Literal["kr", "kpi", "initiative"]
ITEM_KINDS: tuple[str, ...] = ("kr", "kpi", "initiative")
KR_STATUSES: tuple[str, ...] = ("on_track", "at_risk", "off_track")
INITIATIVE_STATUSES: tuple[str, ...] = ("planned", "in_progress", "done", "dropped")


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered line of the check-in prompt: what a reply may update."""

    n: int
    kind: ItemKind
    title: str
    unit: str = ""
    aliases: tuple[str, ...] = ()
    last: float | None = None  # previous value (kr/kpi)
    status: str | None = None  # initiatives: planned | in_progress | done | dropped


@dataclass(frozen=True, slots=True)
class ItemUpdate:
    """What a reply says about one item; unset fields were not mentioned."""

    n: int
    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    """A likely reading the reader is not sure of (SPEC §5): nothing of it is recorded until
    the member picks one of the candidates, each an update as if written plainly."""

    text: str  # the fragment of the reply it is about
    candidates: tuple[ItemUpdate, ...]


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything read from one reply, the doubts to ask about, and what could not be read."""

    updates: tuple[ItemUpdate, ...]
    skip: bool = False
    no_change: bool = False
    unread: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    # Items said to be unchanged on their own (`NPS unchanged`, `1: same`), not in `updates`;
    # a whole reply that says so of everything is `no_change` instead.
    same: tuple[int, ...] = ()
