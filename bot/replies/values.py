"""Values: numbers with their scales, currencies and durations, in the member's locale."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING

from babel import Locale
from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol, parse_decimal

from bot.i18n import cldr_locale
from bot.replies.index import _norm
from bot.replies.patterns import (
    _DURATION_JOIN_RE,
    _DURATION_PART_RE,
    _HOURS_MINUTES_RE,
    _NEXT_WORD_RE,
    _NUMBER_RE,
    _SUFFIX_RE,
    _TRAILING_MINUTES_RE,
    _WORD_RE,
)
from bot.replies.words import (
    ADDED_WORDS,
    AMBIGUOUS_MILLION,
    APPROXIMATE_SUFFIXES,
    BEFORE_WORDS,
    CURRENCY_WORDS,
    FILLER_WORDS,
    MULTIPLIERS,
    NOW_WORDS,
    PERCENT_WORDS,
    PREVIOUS_MARKERS,
    RELATIVE_WORDS,
    RUPIAH_MARKS,
    TARGET_CONNECTORS,
    TARGET_WORDS,
    TIME_UNITS,
    TURN_WORDS,
)

if TYPE_CHECKING:
    from bot.replies.segments import _Segment


@dataclass(frozen=True, slots=True)
class _Expr:
    """One written value: `$1,050`, `4h 30m`, `52 rb`, with its readings per locale."""

    start: int
    end: int
    options: Mapping[str, Decimal] = field(default_factory=dict)  # "en"/"id" → value
    relative: bool = False  # "up 2", "+2": a change, not a level
    glued: bool = False  # digits stuck to letters ("v2", "3x"): not a value


def _scan_values(text: str, segment: _Segment) -> list[_Expr]:
    """Every value written in `text`, left to right."""
    exprs: list[_Expr] = []
    pos = 0
    while (match := _NUMBER_RE.search(text, pos)) is not None:
        expr = _read_expr(text, match, segment)
        exprs.append(expr)
        pos = max(expr.end, match.end())
    return exprs


def _read_expr(text: str, match: re.Match[str], segment: _Segment) -> _Expr:
    """The value written at `match`: a duration for time-unit items, else a number."""
    start = match.start()
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_"):
        return _Expr(start, match.end(), glued=True)
    factor = _time_factor(segment.item.unit)
    if factor is not None:
        duration = _read_duration(text, match, factor)
        if duration is not None:
            return duration
    return _read_number(text, match)


def _read_number(text: str, match: re.Match[str]) -> _Expr:
    """A number with its currency, sign, multiplier (`k`, `jt`, `M`) and unit words."""
    options = _number_options(match.group("num"))
    currency = (match.group("cur") or "").casefold()
    end, scale, glued = _read_suffix(text, match.end(), currency)
    if not options or glued:
        return _Expr(match.start(), end, glued=True)
    sign = Decimal(-1) if match.group("sign") == "-" and _sign_allowed(text, match) else 1
    values = {key: options[key] * scale[key] * sign for key in ("en", "id")}
    relative = (
        match.group("sign") == "+"
        or _relative_before(text, match.start())
        or _added_after(text, end)
    )
    return _Expr(match.start(), end, values, relative=relative)


def _sign_allowed(text: str, match: re.Match[str]) -> bool:
    """`-5` is negative; the `-` of `70-75` is not a sign."""
    at = match.start("sign")
    return at == 0 or not text[at - 1].isalnum()


def _relative_before(text: str, start: int) -> bool:
    """Whether the word before a value makes it a change (`up 2`, `naik 2`)."""
    words = _WORD_RE.findall(text[max(0, start - 40) : start])  # only the word before counts
    return bool(words) and words[-1].casefold() in RELATIVE_WORDS


def _added_after(text: str, end: int) -> bool:
    """Whether the word right after a value makes it an amount added (`2 more`, `5 lagi`),
    which the reader does not turn into a new value; `72 more or less` is not one."""
    after = _NEXT_WORD_RE.match(text, end)
    if after is None or after.group(1).casefold() not in ADDED_WORDS:
        return False
    return _OR_LESS_RE.match(text, after.end()) is None


_OR_LESS_RE = re.compile(r"\s+or\s+less\b", re.IGNORECASE)


def _read_suffix(text: str, pos: int, currency: str) -> tuple[int, Mapping[str, Decimal], bool]:
    """(end, scale per locale, glued?) for the words right after a number."""
    scale: Mapping[str, Decimal] = {"en": Decimal(1), "id": Decimal(1)}
    while (match := _SUFFIX_RE.match(text, pos)) is not None:
        word = match.group("word").rstrip(".")
        folded = word.casefold()
        if folded in MULTIPLIERS or folded == AMBIGUOUS_MILLION:
            scale = _scale_options(word, currency)
        elif folded not in (*PERCENT_WORDS, *CURRENCY_WORDS, *APPROXIMATE_SUFFIXES):
            return pos, scale, not match.group("space")
        pos = match.end()
        if folded in CURRENCY_WORDS:
            currency = folded
    return pos, scale, False


def _scale_options(word: str, currency: str) -> Mapping[str, Decimal]:
    """`M` is a million in English and a miliar in Bahasa Indonesia; rupiah settles it."""
    folded = word.casefold()
    if folded != AMBIGUOUS_MILLION:
        return {"en": MULTIPLIERS[folded], "id": MULTIPLIERS[folded]}
    million, miliar = MULTIPLIERS["million"], MULTIPLIERS["miliar"]
    if currency in RUPIAH_MARKS:
        return {"en": miliar, "id": miliar}
    if currency:
        return {"en": million, "id": million}
    return {"en": million, "id": miliar}


def _number_options(number: str) -> dict[str, Decimal]:
    """The number as read in each locale; where only one reading is valid, both get it."""
    readings = {key: _strict_decimal(number, key) for key in ("en", "id")}
    valid = {key: value for key, value in readings.items() if value is not None}
    if not valid:
        return {}
    only = next(iter(valid.values()))
    return {key: valid.get(key, only) for key in ("en", "id")}


@lru_cache(maxsize=2048)
def _strict_decimal(number: str, locale: str) -> Decimal | None:
    """The number read strictly in one locale's CLDR convention, or None."""
    plain = _plain_decimal(number, locale)
    if plain is not _UNSURE:
        return plain
    try:
        return parse_decimal(number, locale=_babel_locale(locale), strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None


# Digits, and digits with one separator: most values in replies (`74`, `4.8`, `3,75`).
_PLAIN_RE = re.compile(r"([0-9]+)(?:([.,])([0-9]+))?")
_UNSURE = Decimal("NaN")  # `_plain_decimal` leaves the number to Babel


def _plain_decimal(number: str, locale: str) -> Decimal | None:
    """What Babel's strict reading gives for a plain number, without Babel (a fifth of the
    reader's time went to it): digits alone are an integer; one separator followed by other
    than three digits is the locale's decimal mark, or is no number (a group of the wrong
    size). Three digits after it may be either, and anything else is unusual: `_UNSURE`.
    A property test holds this to Babel's own answer."""
    plain = _PLAIN_RE.fullmatch(number)
    if plain is None:
        return _UNSURE
    whole, separator, fraction = plain.groups()
    if separator is None:
        return Decimal(whole)
    if len(fraction) == 3:
        return _UNSURE
    symbols = _separators(locale)
    if separator == symbols[0]:
        return Decimal(f"{whole}.{fraction}")
    return None if separator == symbols[1] else _UNSURE


@lru_cache(maxsize=4)
def _separators(locale: str) -> tuple[str, str]:
    """The locale's decimal mark and group separator."""
    babel = _babel_locale(locale)
    return get_decimal_symbol(babel), get_group_symbol(babel)


@lru_cache(maxsize=4)
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(cldr_locale(locale))


def _time_factor(unit: str) -> int | None:
    """Seconds per unit when the item's unit is a time unit (`h`, `jam`, `min`, `days`)."""
    return TIME_UNITS.get(unit.strip().casefold().rstrip("."))


def _read_duration(text: str, match: re.Match[str], factor: int) -> _Expr | None:
    """`4h30m`, `4h 30m`, `4,5 jam`, `4 jam 30 menit`, `4:30`, `90 min`, in the item's unit."""
    start = match.start("num")
    hm = _HOURS_MINUTES_RE.match(text, start)
    if hm is not None:
        seconds = Decimal(int(hm.group("h")) * 3600 + int(hm.group("m")) * 60)
        per_locale = dict.fromkeys(("en", "id"), seconds / factor)
        return _Expr(match.start(), hm.end(), per_locale)
    totals, end = _duration_parts(text, start)
    if totals is None:
        return None
    values = {key: total / factor for key, total in totals.items()}
    relative = _relative_before(text, match.start())
    return _Expr(match.start(), end, values, relative=relative)


def _duration_parts(text: str, pos: int) -> tuple[dict[str, Decimal] | None, int]:
    """Seconds per locale for consecutive `number unit` parts, and where they end."""
    totals: dict[str, Decimal] | None = None
    while (part := _DURATION_PART_RE.match(text, pos)) is not None:
        options = _number_options(part.group("num"))
        if not options:
            break
        seconds = TIME_UNITS[part.group("unit").casefold()]
        base = totals or dict.fromkeys(("en", "id"), Decimal(0))
        totals = {key: base[key] + options[key] * seconds for key in base}
        pos = part.end()
        if seconds == 3600 and (minutes := _TRAILING_MINUTES_RE.match(text, pos)):
            totals = {key: value + int(minutes.group("m")) * 60 for key, value in totals.items()}
            pos = minutes.end()
        pos = _DURATION_JOIN_RE.match(text, pos).end() if _next_part(text, pos) else pos
    return totals, pos


def _next_part(text: str, pos: int) -> bool:
    """Whether another `number unit` part follows, after an optional `and`/comma."""
    joined = _DURATION_JOIN_RE.match(text, pos)
    return joined is not None and _DURATION_PART_RE.match(text, joined.end()) is not None


def _pick_expr(
    head: str, exprs: Sequence[_Expr], known: frozenset[str] = frozenset()
) -> _Expr | None:
    """The one value of a segment: a single clean value, or the last of `from 72 to 74` (the
    item's own words may stand between: `up 2 points to 74`)."""
    if not exprs or any(expr.glued for expr in exprs):
        return None
    if len(exprs) == 1:
        return None if exprs[0].relative else exprs[0]
    between = head[exprs[0].end : exprs[1].start]
    if len(exprs) == 2 and (_connects(between, known) or _first_is_old(head, exprs[0], exprs[1])):
        if _said_as_target(head, exprs[1]):
            return None  # `74 to 80 target`: the second is the target; ask, do not guess
        return None if exprs[1].relative else exprs[1]
    if len(exprs) == 2 and _points_back(between):
        return None if exprs[0].relative else exprs[0]
    return None


def _connects(between: str, known: frozenset[str] = frozenset()) -> bool:
    """`72 to 74`, `72 -> 74`, `52k last week, now 55k`, `up 2 points to 74` (`points` the
    item's unit, among its `known` words): the second value is the new one."""
    text = between.strip(" ,").casefold()
    if text.endswith(("->", "=>", "→", ">")):
        text = text.rstrip("-=>→ ") + " to"
    words = _WORD_RE.findall(text)
    if not words or words[-1] not in TARGET_CONNECTORS:
        return False
    return all(
        word in FILLER_WORDS
        or word in TARGET_CONNECTORS
        or word in TURN_WORDS
        or _norm(word) in known
        for word in words
    )


def _said_as_target(head: str, expr: _Expr) -> bool:
    """Whether the word right after a value makes it the item's target (`80 target`)."""
    after = _NEXT_WORD_RE.match(head, expr.end)
    return after is not None and after.group(1).casefold() in TARGET_WORDS


def _first_is_old(head: str, first: _Expr, second: _Expr) -> bool:
    """`74 last week, 76 this week`, `last week 74, 76 now`, `74 minggu lalu, 76 minggu ini`:
    the first value's own clause says it is from before, and after the break nothing but
    "now" words stand before the second."""
    between = head[first.end : second.start]
    cut = re.search(r"[,;]", between)
    if cut is None:
        return False
    start = max(head.rfind(",", 0, first.start), head.rfind(";", 0, first.start)) + 1
    own = _WORD_RE.findall(head[start : first.start] + " " + between[: cut.start()])
    if not any(word.casefold() in BEFORE_WORDS for word in own):
        return False
    rest = [word.casefold() for word in _WORD_RE.findall(between[cut.end() :])]
    return all(word in NOW_WORDS or word in FILLER_WORDS for word in rest)


def _points_back(between: str) -> bool:
    """`74 (was 72)`, `74, up from 72`, `74 dari sebelumnya 72`: the second is the old value."""
    words = [word.casefold() for word in _WORD_RE.findall(between)]
    if not any(word in PREVIOUS_MARKERS for word in words):
        return False
    allowed = PREVIOUS_MARKERS | FILLER_WORDS | RELATIVE_WORDS
    return all(word in allowed for word in words) and not re.search(r"[0-9;]", between)


def _choose(options: Mapping[str, Decimal], last: float | None, locale: str) -> Decimal:
    """The reading closest to the previous value; the member's locale when there is none."""
    mine = options[locale]
    other = options["id" if locale == "en" else "en"]
    if mine == other or last is None:
        return mine
    target = Decimal(str(last))
    return other if abs(other - target) < abs(mine - target) else mine
