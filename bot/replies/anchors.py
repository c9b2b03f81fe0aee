"""Anchors: where a line names an item."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from bot.replies.index import _has_unknown_words, _norm, _tokens
from bot.replies.patterns import (
    _COMPACT_RE,
    _NOTE_DASH_RE,
    _NOTE_LABEL_RE,
    _NOTE_WORD_RE,
    _NUMBERED_RE,
    _POSTFIX_VALUE_RE,
    _RESUME_BEFORE_RE,
    _TOKEN_RE,
    _VALUE_AHEAD_RE,
    _WEAK_FORMS,
)

if TYPE_CHECKING:
    from bot.replies.index import _Index


@dataclass(frozen=True, slots=True)
class _Anchor:
    """Where a line names an item; its segment runs to the next anchor."""

    start: int
    end: int
    n: int  # may name no item ("9: 50"); such a segment is unread
    numbered: bool
    postfix: str = ""  # a value written before the item's name ("1,240 tickets")
    also: tuple[int, ...] = ()  # "3 & 4 done": more items the same words are about


def _find_anchors(line: str, index: _Index) -> list[_Anchor]:
    """The item references of a line, in order, ignoring words inside notes."""
    named = _word_anchors(line, index)
    # A pasted title ("Increase NPS from 70 to 80: 74") holds digits that are not item numbers.
    titled = [(a.start, a.end) for a in named if _has_digit(line[a.start : a.end])]
    numbered = [a for a in _numbered_anchors(line, index) if not _inside(a.start, titled)]
    spans = [(a.start, a.end) for a in numbered]
    named = [a for a in named if (a.start, a.end) in titled or not _inside(a.start, spans)]
    notes = [p for p in _note_positions(line) if not _inside(p, spans + titled)]
    accepted: list[_Anchor] = []
    for candidate in sorted([*numbered, *named], key=lambda a: a.start):
        anchor = _accept(line, candidate, accepted, notes, index)
        if anchor is not None:
            accepted.append(anchor)
    return accepted


def _accept(
    line: str, anchor: _Anchor, accepted: list[_Anchor], notes: list[int], index: _Index
) -> _Anchor | None:
    """Whether a candidate reference starts a new segment, given those before it."""
    since = accepted[-1].end if accepted else 0
    if anchor.start < since:
        return None
    note_between = bisect_left(notes, since) < bisect_left(notes, anchor.start)
    if note_between and not _resumes(line, anchor):
        return None
    if anchor.numbered:
        return anchor
    words = _tokens(line[anchor.start : anchor.end])
    if accepted and _continues(words, anchor, accepted[-1], index):
        return None
    return anchor if words in index.loose else _with_postfix(line, anchor, since)


def _continues(words: tuple[str, ...], anchor: _Anchor, previous: _Anchor, index: _Index) -> bool:
    """A name of the item already being read (`web traffic: 51,300 visits`), or its unit."""
    return anchor.n == previous.n or words == index.units.get(previous.n)


def _resumes(line: str, anchor: _Anchor) -> bool:
    """Inside a note, only `, 2: 4.5` or `and tickets 1,300` starts a new item."""
    before = _RESUME_BEFORE_RE.search(line, max(0, anchor.start - 20), anchor.start)
    return before is not None and _VALUE_AHEAD_RE.match(line, anchor.end) is not None


def _with_postfix(line: str, anchor: _Anchor, since: int) -> _Anchor:
    """`..., 1,240 tickets`: a value at a clause start right before the name belongs to it."""
    match = _POSTFIX_VALUE_RE.search(line, since, anchor.start)
    if match is None or _has_unknown_words(match.group("lead"), frozenset()):
        return anchor
    return _Anchor(match.start("v"), anchor.end, anchor.n, False, postfix=match.group("v"))


def _numbered_anchors(line: str, index: _Index) -> list[_Anchor]:
    """References by number (`1:`, `#2`, `(3)`, `4 done`), left to right."""
    out = []
    pos = 0
    while (match := _NUMBERED_RE.search(line, pos)) is not None:
        anchor = _numbered_anchor(line, match, index)
        if anchor is not None:
            out.append(anchor)
        # A rejected match ("74, 2)" as a group) may hide a real one inside it.
        pos = match.end() if anchor is not None else match.start() + 1
    return out


def _numbered_anchor(line: str, match: re.Match[str], index: _Index) -> _Anchor | None:
    """The reference a numbered match makes, or None where its position rules it out."""
    group = match.lastgroup
    if group is None or not _numbered_allowed(line, match, group):
        return None
    numbers = tuple(int(number) for number in re.findall("[0-9]+", match.group(group)))
    # `74 - on track` is a value, not item 74; only `9: 50` plainly names a missing item.
    if group in _WEAK_FORMS and any(n not in index.items for n in numbers):
        return None
    return _Anchor(match.start(), match.end(), numbers[0], True, also=numbers[1:])


def _numbered_allowed(line: str, match: re.Match[str], group: str) -> bool:
    """Position rules that keep `74 - waiting` or `(up 2)` from reading as item numbers."""
    start = match.start()
    before = line[max(0, start - 200) : start]
    at_clause = not before.strip() or before.rstrip()[-1] in ",;"
    after_space = start == 0 or line[start - 1] in " \t,;("
    if group in ("a", "b", "c"):
        return after_space
    if group == "e":
        rest = line[match.end() : match.end() + 1]
        spaced = not rest or rest.isspace() or _COMPACT_RE.match(line) is not None
        return at_clause or (after_space and spaced)
    if group == "d":
        return at_clause or (after_space and before.count("(") <= before.count(")"))
    return at_clause


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _word_anchors(line: str, index: _Index) -> list[_Anchor]:
    """Aliases and title words, longest match first; an ambiguous phrase names nothing."""
    tokens = [(m.start(), m.end(), _norm(m.group())) for m in _TOKEN_RE.finditer(line)]
    out: list[_Anchor] = []
    i = 0
    while i < len(tokens):
        length, n = _phrase_at(line, tokens, i, index)
        if n is not None:
            out.append(_Anchor(tokens[i][0], tokens[i + length - 1][1], n, numbered=False))
        i += max(length, 1)
    return out


def _phrase_at(
    line: str, tokens: list[tuple[int, int, str]], i: int, index: _Index
) -> tuple[int, int | None]:
    """(tokens matched, item) for the longest known phrase starting at token `i`."""
    if tokens[i][2] not in index.first_tokens:
        return 0, None
    for length in range(min(index.max_len, len(tokens) - i), 0, -1):
        window = tokens[i : i + length]
        key = tuple(token[2] for token in window)
        if key in index.phrases and _adjacent(line, window):
            return length, index.phrases[key]
    return 0, None


def _adjacent(line: str, window: list[tuple[int, int, str]]) -> bool:
    """Tokens of one phrase stand next to each other (spaces or hyphens only)."""
    return all(not line[left[1] : right[0]].strip(" -") for left, right in pairwise(window))


def _note_positions(line: str) -> list[int]:
    """Where notes may start in a line."""
    regexes = (_NOTE_LABEL_RE, _NOTE_WORD_RE, _NOTE_DASH_RE)
    return sorted(match.start() for regex in regexes for match in regex.finditer(line))
