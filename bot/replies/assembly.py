"""Putting a reply together: its lines, anchors and segments into one `Reading`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.replies.anchors import _find_anchors, _has_digit, _word_anchors
from bot.replies.cleaning import _clean, _lines
from bot.replies.index import _index, without_title
from bot.replies.model import ItemUpdate, Question, Reading
from bot.replies.patterns import (
    _ALL_RE,
    _COURTESY_RE,
    _FRAGMENT_EDGE,
    _NO_BLOCKER_RE,
    _NO_CHANGE_LINE_RE,
    _NO_CHANGE_RE,
    _NON_VALUE_RE,
    _NOTE_EDGE,
    _NOTE_LABEL_RE,
    _NOTE_WORD_RE,
    _SKIP_NEGATED_RE,
    _SKIP_ONE_RE,
    _SKIP_RE,
    _TARGET_BEFORE_RE,
)
from bot.replies.segments import _read_segment, _Said, _Segment
from bot.replies.words import NO_BLOCKER_NOTES

# A bare value asks about this many items at most (the likeliest first).
_MAX_BARE_CANDIDATES = 4

if TYPE_CHECKING:
    from bot.replies.anchors import _Anchor
    from bot.replies.index import _Index
    from bot.replies.model import Item


@dataclass(slots=True)
class _Draft:
    """Fields gathered for one item so far; later mentions win field by field."""

    order: tuple[int, int]
    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None

    def merge(self, said: _Said) -> None:
        """Fold in what a later mention said."""
        self.value = said.value if said.value is not None else self.value
        self.confidence = said.confidence if said.confidence is not None else self.confidence
        self.status = said.status if said.status is not None else self.status
        if said.note is not None:
            self.note = said.note if self.note is None else f"{self.note}; {said.note}"


@dataclass(slots=True)
class _Reply:
    """The reading being built."""

    drafts: dict[int, _Draft] = field(default_factory=dict)
    same: set[int] = field(default_factory=set)
    unread: list[str] = field(default_factory=list)
    courtesy: list[str] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    skip: bool = False
    no_change: bool = False

    def record(self, n: int, said: _Said, order: tuple[int, int]) -> None:
        """Add what a segment said about item `n`."""
        draft = self.drafts.setdefault(n, _Draft(order))
        draft.merge(said)

    def reading(self) -> Reading:
        """The finished `Reading`: flags only without updates, chatter only when alone."""
        updates = tuple(
            ItemUpdate(n, d.value, d.confidence, d.status, d.note)
            for n, d in sorted(self.drafts.items(), key=lambda pair: pair[1].order)
        )
        skip = self.skip and not updates
        no_change = self.no_change and not updates and not skip
        read_any = updates or skip or no_change or self.questions
        unread = self.unread if read_any else self.unread + self.courtesy
        asked = {question.text for question in self.questions}  # asked about, not shown back
        unread = [fragment for fragment in unread if fragment not in asked]
        same = () if skip or no_change else tuple(sorted(self.same - set(self.drafts)))
        return Reading(
            updates, skip, no_change, tuple(_dedupe(unread)), tuple(self.questions), same
        )

    def ask(self, fragment: str, candidates: Iterable[ItemUpdate]) -> None:
        """A doubt about a fragment: asked about instead of shown back as unread."""
        self.questions.append(Question(fragment, tuple(candidates)))


def _dedupe(fragments: Iterable[str]) -> list[str]:
    """Fragments once each, in order, without empties."""
    return list(dict.fromkeys(fragment for fragment in fragments if fragment))


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the reply, with where it names items."""

    number: int
    text: str
    anchors: tuple[_Anchor, ...]
    items: tuple[int, ...] = ()  # the items its segments named, for continuation lines


@dataclass(frozen=True, slots=True)
class _Context:
    """What reading one segment needs besides its text."""

    index: _Index
    locale: str
    reply: _Reply
    lead: _Said | None = None  # said before the line's only name ("conf 7 for nps: 74")


def _read(text: str, items: Sequence[Item], locale: str) -> Reading:
    """The reading of a whole reply: named lines first, then lines that name no item."""
    index = _index(items)
    lines = [
        _Line(i, line, tuple(_find_anchors(line, index)))
        for i, line in enumerate(_lines(_clean(text)))
    ]
    reply = _Reply()
    read_lines = [_read_anchored(line, index, locale, reply) for line in lines]
    plain = [(i, line) for i, line in enumerate(read_lines) if not line.anchors]
    if not any(line.anchors for line in lines):
        plain = [(i, line) for i, line in plain if not _read_bare(line, index, locale, reply)]
    interleaved = _interleaved(read_lines)
    for position, line in plain:
        above = read_lines[position - 1] if position and interleaved else None
        _read_plain(line, above, index, locale, reply)
    if not reply.drafts and index.items and reply.same >= set(index.items):
        reply.no_change = True
    return reply.reading()


def _interleaved(lines: Sequence[_Line]) -> bool:
    """Lines without item names sit between item lines ("1: 74 / blocker: x / 2: 4.5"): each
    then belongs to the item above it. After a whole list, a line is about the list."""
    named = [i for i, line in enumerate(lines) if line.anchors]
    if len(named) < 2:
        return False
    return any(not line.anchors and named[0] < i < named[-1] for i, line in enumerate(lines))


def _read_anchored(line: _Line, index: _Index, locale: str, reply: _Reply) -> _Line:
    """Read each segment of a line that names items; returns the line with its items."""
    if not line.anchors:
        return line
    lead = _read_prefix(line, index, locale, reply)
    named: list[int] = []
    for i, anchor in enumerate(line.anchors):
        end = line.anchors[i + 1].start if i + 1 < len(line.anchors) else len(line.text)
        if _read_anchor(line, anchor, end, _Context(index, locale, reply, lead)):
            named.append(anchor.n)
    return _Line(line.number, line.text, line.anchors, tuple(named))


def _read_anchor(line: _Line, anchor: _Anchor, end: int, context: _Context) -> bool:
    """Read one segment into the reply; True when it named a real item."""
    index, reply = context.index, context.reply
    fragment = line.text[anchor.start : end].strip(_FRAGMENT_EDGE)
    numbers = (anchor.n, *anchor.also)
    if any(n not in index.items for n in numbers):
        reply.unread.append(fragment)
        return False
    if _TARGET_BEFORE_RE.search(line.text, max(0, anchor.start - 20), anchor.start):
        reply.unread.append(fragment)  # "target nps 80": the number is the goal, not a reading
        return True
    readings = [
        (n, _read_segment(_anchored_segment(line, anchor, end, n, context))) for n in numbers
    ]
    if len(numbers) > 1 and any(said.value is not None for _, said in readings):
        reply.unread.append(fragment)  # "3 & 4: 50" gives one value to two items
        return False
    for n, said in readings:
        merged = said if context.lead is None else _merged(context.lead, said)
        _apply(merged, n, fragment, (line.number, anchor.start), reply)
    return True


def _merged(first: _Said, later: _Said) -> _Said:
    """What two parts of one line said about the same item; the later part wins."""
    return _Said(
        value=later.value,
        confidence=later.confidence if later.confidence is not None else first.confidence,
        status=later.status or first.status,
        note=later.note or first.note,
        same=later.same,
        unsure=later.unsure,
        rejected=first.rejected + later.rejected,
    )


def _anchored_segment(
    line: _Line, anchor: _Anchor, end: int, n: int, context: _Context
) -> _Segment:
    """The text after a name up to the next one, without a pasted copy of the title."""
    index = context.index
    text = without_title(index.items[n].title, line.text[anchor.end : end])
    if text.startswith("-") and anchor.end and line.text[anchor.end - 1].isalnum():
        text = " " + text[1:]  # "nps-74": a hyphen stuck to the name separates, it is no sign
    return _Segment(
        index.items[n],
        f"{anchor.postfix} {text}" if anchor.postfix else text,
        context.locale,
        index.known[n],
        strict=bool(anchor.postfix),
        anchored=not anchor.postfix,
    )


def _apply(said: _Said, n: int, fragment: str, order: tuple[int, int], reply: _Reply) -> None:
    """Record what a segment said, or list it as unread."""
    reply.unread.extend(said.rejected)
    if said.unsure and said.doubt:
        reply.ask(fragment, (_update(n, said, value) for value in said.doubt))
    elif said.unsure or (said.empty and not said.same):
        reply.unread.append(fragment)
    elif said.empty:
        reply.same.add(n)
    else:
        reply.record(n, said, order)


def _update(n: int, said: _Said, value: float) -> ItemUpdate:
    """What a segment said, with one of its candidate values."""
    return ItemUpdate(n, value, said.confidence, said.status, said.note)


def _read_prefix(line: _Line, index: _Index, locale: str, reply: _Reply) -> _Said | None:
    """Text before the first name: a note, status or confidence for the line's only item."""
    fragment = line.text[: line.anchors[0].start].strip(_FRAGMENT_EDGE)
    if not fragment:
        return None
    only = line.anchors[0] if len(line.anchors) == 1 and not line.anchors[0].also else None
    if only is not None and only.n in index.items:
        item = index.items[only.n]
        said = _read_segment(_Segment(item, fragment, locale, index.known[item.n], anchored=False))
        if said.value is None and not said.unsure and not said.empty:
            return said
    if _has_digit(_NON_VALUE_RE.sub(" ", fragment)):
        reply.unread.append(fragment)
    return None


def _read_plain(
    line: _Line, above: _Line | None, index: _Index, locale: str, reply: _Reply
) -> None:
    """A line naming no item: skip/no-change, a continuation, or unread."""
    if _is_skip(line.text):
        reply.skip = True
    elif _is_no_change(line.text):
        reply.no_change = True
    elif _read_continuation(line, above, index, locale, reply):
        return
    elif _COURTESY_RE.fullmatch(line.text) or line.text.endswith(":"):
        reply.courtesy.append(line.text)
    elif _says_no_blocker(line.text):
        return
    else:
        reply.unread.append(line.text.strip(_FRAGMENT_EDGE))


def _says_no_blocker(text: str) -> bool:
    """`no blockers`, `kendala: tidak ada`: understood, and nothing to record."""
    if _NO_BLOCKER_RE.search(text) is not None:
        return True
    label, _, rest = text.rpartition(":")
    said_none = rest.strip(_NOTE_EDGE).casefold() in NO_BLOCKER_NOTES
    marked = _NOTE_LABEL_RE.search(text) or _NOTE_WORD_RE.search(label)
    return said_none and marked is not None


def _is_skip(text: str) -> bool:
    """A line that skips the week (`skip`, `lewati`), not `don't skip` or `skip 2`."""
    if _SKIP_RE.search(text) is None or _SKIP_NEGATED_RE.search(text) is not None:
        return False
    return _SKIP_ONE_RE.match(text) is None


def _is_no_change(text: str) -> bool:
    """A line that confirms last week's values (`no change`, `tetap`, `same as last week`)."""
    bare = text.strip(" .!,:;-")
    return _NO_CHANGE_RE.search(text) is not None or _NO_CHANGE_LINE_RE.fullmatch(bare) is not None


def _read_bare(line: _Line, index: _Index, locale: str, reply: _Reply) -> bool:
    """With one KR/KPI (or one initiative), a line like `74` or `done` is about it; with one
    item in all, a note or confidence too."""
    only_item = len(index.items) == 1
    for kinds in (("kr", "kpi"), ("initiative",)):
        owners = [item for item in index.items.values() if item.kind in kinds]
        if len(owners) != 1:
            continue
        item = owners[0]
        segment = _Segment(
            item, line.text, locale, index.known[item.n], strict=True, anchored=False
        )
        said = _read_segment(segment)
        decisive = said.value is not None or said.status is not None or only_item
        if not said.unsure and not said.empty and decisive:
            reply.unread.extend(said.rejected)
            reply.record(item.n, said, (line.number, 0))
            return True
    return _ask_bare(line, index, locale, reply)


def _ask_bare(line: _Line, index: _Index, locale: str, reply: _Reply) -> bool:
    """A bare value (`74`) with several KRs/KPIs: a question with a button per item that it
    could be, those whose last value it is closest to first."""
    if not _has_digit(line.text):
        return False
    candidates: list[tuple[float, ItemUpdate]] = []
    for item in index.items.values():
        if item.kind == "initiative":
            continue
        segment = _Segment(
            item, line.text, locale, index.known[item.n], strict=True, anchored=False
        )
        said = _read_segment(segment)
        if said.value is not None and not said.unsure and not said.rejected:
            candidates.append((_distance(said.value, item.last), _update(item.n, said, said.value)))
    if len(candidates) < 2:
        return False
    ranked = sorted(candidates, key=lambda pair: pair[0])[:_MAX_BARE_CANDIDATES]
    reply.ask(line.text.strip(_FRAGMENT_EDGE), (update for _, update in ranked))
    return True


def _distance(value: float, last: float | None) -> float:
    """How far a value is from an item's last one, as a ratio (unknown last: far)."""
    if last is None or last == 0 or value == 0 or (value < 0) != (last < 0):
        return math.inf
    return abs(math.log(abs(value) / abs(last)))


def _read_continuation(
    line: _Line, above: _Line | None, index: _Index, locale: str, reply: _Reply
) -> bool:
    """`blocker: ...` or `conf 7` on its own line, for the item it is about (see
    `_continuation_targets`)."""
    targets = _continuation_targets(line, above, index, reply)
    said_any = False
    for n in targets:
        item = index.items[n]
        segment = _Segment(item, line.text, locale, index.known[n], anchored=False)
        said = _read_segment(segment)
        if said.value is not None or said.unsure or said.empty:
            return said_any
        reply.unread.extend(said.rejected)
        reply.record(n, said, reply.drafts[n].order if n in reply.drafts else (line.number, 0))
        said_any = True
    return said_any


def _continuation_targets(
    line: _Line, above: _Line | None, index: _Index, reply: _Reply
) -> list[int]:
    """Every KR/KPI read when it says `all`; else the item of the line above (interleaved
    layout), the only item read, or the one item its words name; else none (unread)."""
    if _ALL_RE.search(line.text) is not None:
        return [n for n in reply.drafts if index.items[n].kind != "initiative"]
    if above is not None and len(above.items) == 1:
        return [above.items[0]]
    if len(reply.drafts) == 1:
        return list(reply.drafts)
    named = {anchor.n for anchor in _word_anchors(line.text, index)}
    return list(named) if len(named) == 1 else []
