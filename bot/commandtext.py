"""Reading the words of `/okr update` and `/kpi log`: which item, which value, what note.

Values are read by the check-in reply reader, so `1.240`, `4h30m`, `Rp 1,05 jt` or `52k` mean
the same in a command as in a DM.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.domain import VALUE_LIMIT
from bot.replies import Item, read_reply
from bot.replies.scores import read_score as read_one_score

_VALUE_START = re.compile(r"^[-+]?(?:\$|€|£|rp\.?|idr|usd)?\s*\d", re.IGNORECASE)
_CURRENCY_WORD = re.compile(r"^(?:\$|€|£|rp\.?|idr|usd)$", re.IGNORECASE)
_PERIOD = re.compile(r"^\d{4}-(?:0[1-9]|1[0-2]|W(?:0[1-9]|[1-4]\d|5[0-3]))$")
# A number with at most two decimals (`74`, `74.5`, `3,75`) has one reading in every locale and
# unit: three digits after the separator may be a thousands group (`1.240`), and go to the reader.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d{1,2})?")
MAX_VALUE_WORDS = 4


@dataclass(frozen=True)
class ValueText:
    value: float
    rest: str


def comma_choices(text: str, allowed: Collection[str]) -> tuple[tuple[str, ...], list[str]]:
    """`a, b,a` -> (("a", "b"), the words of them not in `allowed`): each word once, in order."""
    wanted = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    return wanted, [word for word in wanted if word not in allowed]


def split_reference(text: str) -> tuple[str, str]:
    """`"reply time 4.5h late vendor"` -> `("reply time", "4.5h late vendor")`.

    A leading `KR-7`/`7` is a reference on its own; otherwise the reference is every word up
    to the first one that looks like a value.
    """
    words = text.split()
    if words and re.fullmatch(r"(?:kr-?|#)?\d+", words[0], re.IGNORECASE) and len(words) > 1:
        return words[0], " ".join(words[1:])
    for index, word in enumerate(words):
        if _VALUE_START.match(word) or _CURRENCY_WORD.match(word):
            return " ".join(words[:index]), " ".join(words[index:])
    return " ".join(words), ""


def read_value(
    text: str, *, title: str, unit: str, last: float | None, locale: str
) -> ValueText | None:
    """The value at the start of `text` (up to four words, e.g. `4 jam 30 menit`) and the rest."""
    item = Item(n=1, kind="kr", title=title, unit=unit, last=last)
    words = text.split()
    if len(words) == 1 and _PLAIN_NUMBER.fullmatch(words[0]):
        # The commonest command (`/okr update KR-7 74.5`): the reader, which finds the same
        # value, costs a fifth of the command under a burst. Past VALUE_LIMIT, a slip.
        value = float(words[0].replace(",", "."))
        return ValueText(value, "") if abs(value) <= VALUE_LIMIT else None
    best: ValueText | None = None
    for size in range(1, min(MAX_VALUE_WORDS, len(words)) + 1):
        reading = read_reply("1: " + " ".join(words[:size]), [item], locale=locale)
        if reading.unread or len(reading.updates) != 1:
            continue
        update = reading.updates[0]
        fresh = best is None or update.value != best.value  # a longer prefix must add meaning
        if update.value is not None and update.note is None and update.status is None and fresh:
            best = ValueText(update.value, " ".join(words[size:]))
    return best


def split_period(text: str) -> tuple[str, str | None]:
    """A trailing `2026-11` or `2026-W47` is the period of a KPI value."""
    words = text.split()
    if words and _PERIOD.match(words[-1].upper()):
        return " ".join(words[:-1]), words[-1].upper()
    return text, None


def read_score(text: str) -> ValueText | None:
    """A score from 0 to 1 (or a percent) and its note, as `/okr score` takes it (see
    `bot.replies.scores.read_score`)."""
    found = read_one_score(text)
    return None if found is None else ValueText(*found)
