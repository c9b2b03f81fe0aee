"""Segments: what is said about one item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import VALUE_LIMIT
from bot.replies.confidence import _take_confidence, _take_same, _take_status
from bot.replies.index import _has_unknown_words, _is_known, _norm
from bot.replies.notes import _split_note
from bot.replies.patterns import (
    _CLAUSE_BREAK_RE,
    _FORECAST_RE,
    _INITIATIVE_STATUS_RE,
    _LAST_NOTE_RE,
    _NEXT_WORD_RE,
    _NO_BLOCKER_RE,
    _NON_VALUE_RE,
    _NOTE_EDGE,
    _RATIO_RE,
    _SENTENCE_END_RE,
    _WORD_RE,
)
from bot.replies.values import _choose, _pick_expr, _scan_values, _time_factor
from bot.replies.words import (
    COUNT_ADJECTIVES,
    COUNT_NOUNS,
    MOVEMENT_WORDS,
    PERCENT_WORDS,
    SPAN_WORDS,
)

if TYPE_CHECKING:
    from bot.replies.model import Item
    from bot.replies.values import _Expr


_MAX_CANDIDATES = 3


@dataclass(frozen=True, slots=True)
class _Said:
    """What one segment says about its item."""

    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None
    same: bool = False  # "same", "no change": nothing to record, nothing unread either
    unsure: bool = False  # something numeric it could not place: record nothing
    doubt: tuple[float, ...] = ()  # when unsure: the likely values, to ask about
    rejected: tuple[str, ...] = ()  # sub-fragments read as nothing ("conf 12")

    @property
    def empty(self) -> bool:
        fields = (self.value, self.confidence, self.status, self.note)
        return all(value is None for value in fields)


@dataclass(frozen=True, slots=True)
class _Segment:
    """Text said about one item, and how strictly to read it."""

    item: Item
    text: str
    locale: str
    known: frozenset[str]
    strict: bool = False  # no unknown words allowed (bare values, values before a name)
    anchored: bool = True  # text follows the item's name: the value must come near it


def _read_segment(segment: _Segment) -> _Said:
    """Note, dates, confidence, status and value of one segment, in that order."""
    text = _NO_BLOCKER_RE.sub(" ", segment.text)
    head, note = _split_note(text, segment.known)
    head = _NON_VALUE_RE.sub(" ", _LAST_NOTE_RE.sub(" ", head))
    confidence, rejected, head = _take_confidence(head)
    head = _RATIO_RE.sub(" ", head)
    said_with_status = head
    status, head = _take_status(head, segment.item.kind)
    same, head = _take_same(head)
    if segment.item.kind == "initiative":
        said = _initiative_value(head, segment, status, said_with_status)
    else:
        said = _metric_value(head, segment)
    return _Said(
        value=said.value,
        confidence=confidence,
        status=status,
        note=note,
        same=same,
        unsure=said.unsure,
        doubt=said.doubt,
        rejected=rejected + said.rejected,
    )


def _initiative_value(head: str, segment: _Segment, status: str | None, said: str) -> _Said:
    """Initiatives have no value: a number by one (`4: 50%`) is not understood. Beside a
    status, other numbers are context ("underway, started with 3 vendors", "live for 100%
    of users"), but not a share of the status itself ("80% done" is not done)."""
    if status is not None:
        exprs = [e for e in _scan_values(said, segment) if _is_share_of_status(said, e)]
    else:
        exprs = [e for e in _scan_values(head, segment) if not e.glued]
    unsure = bool(exprs) or (segment.strict and _has_unknown_words(head, segment.known))
    return _Said(unsure=unsure)


def _metric_value(head: str, segment: _Segment) -> _Said:
    """The value of a KR/KPI segment, or unsure when the numbers in it do not settle one."""
    exprs = _without_counts(head, _scan_values(head, segment), segment)
    chosen = _pick_expr(head, exprs, segment.known)
    rejected: tuple[str, ...] = ()
    if chosen is None and not segment.strict:
        head, exprs, rejected = _first_clause(head, exprs)
        chosen = _pick_expr(head, exprs, segment.known)
    if chosen is None:
        unsure = bool(exprs) or (segment.strict and _has_unknown_words(head, segment.known))
        return _Said(unsure=unsure, doubt=_candidates(head, exprs, segment))
    if segment.strict and _has_unknown_words(_without(head, exprs), segment.known):
        return _Said(unsure=True)
    if _FORECAST_RE.search(head) is not None:
        return _Said(unsure=True)
    if segment.anchored and not _near_start(head[: exprs[0].start], segment.known):
        return _Said(unsure=True, doubt=_candidates(head, [chosen], segment))
    value = float(_choose(chosen.options, segment.item.last, segment.locale))
    if abs(value) > VALUE_LIMIT:
        return _Said(unsure=True)  # a slip of the keyboard, not a reading
    return _Said(value=value, rejected=rejected)


def _candidates(head: str, exprs: Sequence[_Expr], segment: _Segment) -> tuple[float, ...]:
    """The values worth asking about when none is sure: plain levels (no changes, no
    forecasts), at most three; none when the segment says nothing like a value."""
    plain = [e for e in exprs if e.options and not e.relative and not e.glued]
    if not plain or len(plain) > _MAX_CANDIDATES or _FORECAST_RE.search(head) is not None:
        return ()
    values = (float(_choose(e.options, segment.item.last, segment.locale)) for e in plain)
    return tuple(dict.fromkeys(value for value in values if abs(value) <= VALUE_LIMIT))


def _without_counts(head: str, exprs: list[_Expr], segment: _Segment) -> list[_Expr]:
    """Numbers that count people or things ("4 people on leave") are not the item's value,
    unless they are all there is to choose from."""
    kept = [e for e in exprs if not _is_count(head, e, segment)]
    return kept if kept else exprs


def _is_count(head: str, expr: _Expr, segment: _Segment) -> bool:
    """`3 vendors`, `2 new hires`, `4 orang`: the number is followed by a counted noun not of
    the item; or `over 2 weeks`: a span of time, when the item is not a time."""
    match = _NEXT_WORD_RE.match(head, expr.end)
    if match is None or not expr.options:
        return False
    word = match.group(1).casefold()
    if word in COUNT_ADJECTIVES and (after := _NEXT_WORD_RE.match(head, match.end())):
        word = after.group(1).casefold() if after.group(1).casefold() in COUNT_NOUNS else word
    if _norm(word) in segment.known:  # "1,240 tickets" for the tickets item is its value
        return False
    return word in COUNT_NOUNS or (word in SPAN_WORDS and _time_factor(segment.item.unit) is None)


def _is_share_of_status(text: str, expr: _Expr) -> bool:
    """`80% done`, `50 persen selesai`: a percentage right before a status word."""
    written = text[expr.start : expr.end].casefold()
    if not ("%" in written or any(word in written for word in PERCENT_WORDS[1:])):
        return False
    return _INITIATIVE_STATUS_RE.match(text, expr.end + _gap(text, expr.end)) is not None


def _gap(text: str, pos: int) -> int:
    """How many spaces follow a position."""
    return len(text[pos:]) - len(text[pos:].lstrip(" "))


def _first_clause(head: str, exprs: list[_Expr]) -> tuple[str, list[_Expr], tuple[str, ...]]:
    """`frt 40, resolution 2.1d`: the first clause holds this item's value; the rest, with
    its numbers, is shown back as unread."""
    if len(exprs) < 2:
        return head, exprs, ()
    cut = _CLAUSE_BREAK_RE.search(head, exprs[0].end)
    if cut is None or cut.start() > exprs[-1].start:
        return head, exprs, ()
    rest = head[cut.start() :].strip(_NOTE_EDGE)
    return head[: cut.start()], [e for e in exprs if e.end <= cut.start()], (rest,)


def _without(text: str, exprs: Sequence[_Expr]) -> str:
    """The text with the values blanked out, to check the words around them."""
    for expr in reversed(exprs):
        text = text[: expr.start] + " " + text[expr.end :]
    return text


def _near_start(gap: str, known: frozenset[str]) -> bool:
    """`nps is now 74` yes; `reply time was bad, 3 customers` no."""
    unknown = [
        w
        for w in _WORD_RE.findall(gap)
        if not _is_known(w, known) and w.casefold() not in MOVEMENT_WORDS
    ]
    if _SENTENCE_END_RE.search(gap.strip()) and unknown:
        return False
    return len(unknown) <= 2 and not (unknown and "," in gap)
