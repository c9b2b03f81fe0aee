"""Notes: the words about an item that are kept as its note (`blocker: ...`)."""

from __future__ import annotations

import re

from bot.replies.index import _is_known
from bot.replies.patterns import (
    _CONF_AFTER_RE,
    _CONF_BARE_RE,
    _CONF_BEFORE_RE,
    _CONJUNCTION_RE,
    _INITIATIVE_STATUS_RE,
    _KR_STATUS_RE,
    _LEADING_STATUS_RE,
    _NOTE_DASH_COUNT_RE,
    _NOTE_DASH_RE,
    _NOTE_EDGE,
    _NOTE_LABEL_RE,
    _NOTE_WORD_RE,
    _TURN_TO_VALUE_RE,
)
from bot.replies.words import NO_BLOCKER_NOTES, TURN_WORDS


def _split_note(text: str, known: frozenset[str]) -> tuple[str, str | None]:
    """(head, note): the note starts at the first marker; status or confidence clauses at its
    ends go back to the head (`- on track, waiting on legal`)."""
    marker = _first_note_marker(text, known)
    if marker is None:
        return text, None
    start, body_start, kept = marker
    body = text[body_start:]
    leading, body = _peel(body, leading=not kept)
    if not kept and (label := _NOTE_LABEL_RE.match(body.lstrip())) is not None:
        body = body.lstrip()[label.end() :]  # "- blocker: ..."
    if kept and (conjunction := _CONJUNCTION_RE.match(body)) is not None:
        leading, body = _after_conjunction(body[conjunction.end() :], body)
    body, trailing = _peel_trailing(body)
    head = " , ".join(part for part in (text[:start], leading, trailing) if part)
    return head, _note_text(body)


def _after_conjunction(rest: str, body: str) -> tuple[str, str]:
    """`but at risk because ...`: the status is the item's, the reason is the note."""
    status = _LEADING_STATUS_RE.match(rest)
    if status is None:
        return "", body
    rest = rest[status.end() :].lstrip(" ,;")
    label = _NOTE_LABEL_RE.match(rest)
    return status.group(), rest[label.end() :] if label else rest


def _first_note_marker(text: str, known: frozenset[str]) -> tuple[int, int, bool] | None:
    """(marker start, note start, label kept in note?) for the earliest note marker."""
    found: list[tuple[int, int, bool]] = []
    for regex, keep in ((_NOTE_LABEL_RE, False), (_NOTE_DASH_RE, False), (_NOTE_WORD_RE, True)):
        match = regex.search(text)
        # "dipped to 9% but now 9.8%": a turn to the current value, not the start of a note.
        while match is not None and keep and _turns_to_value(text, match):
            match = regex.search(text, match.end())
        if match is not None:
            found.append((match.start(), match.start() if keep else match.end(), keep))
    # "4.5 - 2 agents on leave" is a note; "72 - 74 points" is not.
    for match in _NOTE_DASH_COUNT_RE.finditer(text):
        if not _is_known(match.group("word"), known):
            found.append((match.start(), match.end(), False))
            break
    return min(found, key=lambda marker: (marker[0], marker[2])) if found else None


def _turns_to_value(text: str, match: re.Match[str]) -> bool:
    return match.group().casefold() in TURN_WORDS and bool(
        _TURN_TO_VALUE_RE.match(text, match.end())
    )


def _peel(body: str, *, leading: bool) -> tuple[str, str]:
    """Leading comma-clauses of a dash note that are only a status or confidence."""
    if not leading:
        return "", body
    clauses = body.split(",")
    taken = 0
    while taken < len(clauses) and _is_attribute(clauses[taken]):
        taken += 1
    return ",".join(clauses[:taken]), ",".join(clauses[taken:])


def _peel_trailing(body: str) -> tuple[str, str]:
    """Trailing comma-clauses of a note that are only a status or confidence."""
    clauses = body.split(",")
    keep = len(clauses)
    while keep > 1 and _is_attribute(clauses[keep - 1]):
        keep -= 1
    return ",".join(clauses[:keep]), ",".join(clauses[keep:])


def _is_attribute(clause: str) -> bool:
    """A clause that is nothing but a confidence or a status (`conf 6`, `at risk`)."""
    rest = clause.strip(" .!")
    if not rest:
        return False
    for regex in (_CONF_AFTER_RE, _CONF_BEFORE_RE, _CONF_BARE_RE, _KR_STATUS_RE):
        rest = regex.sub("", rest)
    rest = _INITIATIVE_STATUS_RE.sub("", rest)
    return not rest.strip(" .!") and rest != clause.strip(" .!")


def _note_text(body: str) -> str | None:
    """The note as written, trimmed; None when it only says there is no blocker."""
    note = body.strip(_NOTE_EDGE)
    if note.count("(") < note.count(")"):
        note = note.replace(")", "")
    note = note.strip(_NOTE_EDGE)
    if not note or note.rpartition(":")[2].strip(_NOTE_EDGE).casefold() in NO_BLOCKER_NOTES:
        return None
    return note
