"""Confidence, status and "same" in what is said about an item."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import cast

from bot.replies.patterns import (
    _CONF_AFTER_RE,
    _CONF_BARE_RE,
    _CONF_BEFORE_RE,
    _INITIATIVE_STATUS_RE,
    _KR_STATUS_RE,
    _SAME_RE,
)
from bot.replies.words import INITIATIVE_STATUS_WORDS, KR_STATUS_WORDS


def _take_confidence(head: str) -> tuple[int | None, tuple[str, ...], str]:
    """(confidence, rejected fragments, head without them). The last good one wins."""
    found: int | None = None
    rejected: list[str] = []
    for regex in (_CONF_AFTER_RE, _CONF_BEFORE_RE, _CONF_BARE_RE):
        while (match := regex.search(head)) is not None:
            value = _confidence_value(match)
            if value is None:
                rejected.append(match.group().strip())
            else:
                found = value
            head = head[: match.start()] + " " + head[match.end() :]
    return found, tuple(rejected), head


def _confidence_value(match: re.Match[str]) -> int | None:
    """0..10, or a percentage in tens (`80%` → 8); anything else is not a confidence."""
    try:
        number = Decimal(match.group("num").replace(",", "."))
    except InvalidOperation:
        return None
    den = match.groupdict().get("den")
    if match.groupdict().get("pct") or den == "100":
        number = number / 10
    elif den not in (None, "10"):
        return None
    if number != number.to_integral_value() or not 0 <= number <= 10:
        return None
    return int(number)


def _take_status(head: str, kind: str) -> tuple[str | None, str]:
    """The status said for this kind of item; words of the other kind stay in the text."""
    regex, table = (
        (_INITIATIVE_STATUS_RE, INITIATIVE_STATUS_WORDS)
        if kind == "initiative"
        else (_KR_STATUS_RE, cast(Mapping[str, str | None], KR_STATUS_WORDS))
    )
    # The first status said is the item's; later ones are context ("in progress, target rilis").
    match = regex.search(head)
    found = table.get(_phrase_key(match.group())) if match else None
    return found, regex.sub(" ", head)


def _phrase_key(text: str) -> str:
    """A matched phrase in table form: lower case, single spaces."""
    return " ".join(re.split(r"[\s-]+", text.casefold()))


def _take_same(head: str) -> tuple[bool, str]:
    """Whether the segment says "same"/"no change" (or is only a dash), and the rest."""
    if not head.strip(" :=-.)"):
        return bool(head.strip(" :=.)")), head
    stripped = _SAME_RE.sub(" ", head)
    return stripped != head, stripped
