"""Message catalogs and locale-aware formatting.

Every sentence a person reads goes through `t()` (or `tn()` for counted nouns). The message ids
are the English text with `{name}` placeholders; `id/LC_MESSAGES/okrbot.po` holds the Bahasa
Indonesia translation. Catalogs are gettext `.po` files read with Babel at first use, so there is
no compile step. Numbers and dates are formatted with Babel's CLDR data.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, format_scientific, parse_pattern

LOCALES = ("en", "id")
DEFAULT_LOCALE = "en"
_CLDR = {"en": "en_US", "id": "id_ID"}
_HERE = Path(__file__).parent


def normalize_locale(value: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map Slack's `en-US`, `id-ID`, `in` (old ISO code) and friends to a supported locale."""
    if not value:
        return default
    lang = value.replace("_", "-").split("-")[0].lower()
    if lang == "in":
        lang = "id"
    return lang if lang in LOCALES else default


@cache
def _catalog(locale: str) -> dict[str, str | tuple[str, ...]]:
    path = _HERE / locale / "LC_MESSAGES" / "okrbot.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=_CLDR[locale])
    entries: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if message.string and any(message.string):
            entries[key] = message.string
    return entries


def N_(msgid: str) -> str:
    """Mark a string for extraction where it is defined; translate it later with `t`."""
    return msgid


def t(locale: str, msgid: str, /, **params: object) -> str:
    """Translate `msgid` into `locale` and fill its `{placeholders}`."""
    found = _catalog(normalize_locale(locale)).get(msgid)
    text = found if isinstance(found, str) else msgid
    return text.format(**params) if params else text


def tn(locale: str, singular: str, plural: str, count: int, /, **params: object) -> str:
    """Translate a counted phrase; `{count}` is always available to the text."""
    loc = normalize_locale(locale)
    found = _catalog(loc).get(singular)
    if isinstance(found, tuple):
        index = Locale.parse(_CLDR[loc]).plural_form(count)
        forms = {"one": 0, "other": 1}
        text = found[min(forms.get(index, len(found) - 1), len(found) - 1)]
    else:
        text = singular if count == 1 else plural
    return text.format(count=count, **params)


@cache
def _number_format(locale: str, digits: int) -> tuple[NumberPattern, Locale]:
    # Parsing the pattern and the locale costs more than formatting; summaries format hundreds.
    pattern = parse_pattern("#,##0" + ("." + "#" * digits if digits > 0 else ""))
    return pattern, Locale.parse(_CLDR[locale])


# Beyond this, numbers are written in scientific notation: Babel's plain pattern fails near
# 1e26 (decimal precision), and no value okrbot takes comes close (bot.domain.VALUE_LIMIT).
_PLAIN_LIMIT = 1e20


@lru_cache(maxsize=8192)
def format_number(value: float, locale: str, *, digits: int = 2) -> str:
    """`1240.5` -> `1,240.5` (en) or `1.240,5` (id), at most `digits` decimals.

    Cached: a summary formats the same targets and values again and again."""
    pattern, cldr = _number_format(normalize_locale(locale), digits)
    if math.isfinite(value) and abs(value) >= _PLAIN_LIMIT:  # stored before values were bounded
        return format_scientific(value, "0.###E0", locale=cldr)
    return pattern.apply(value, cldr)


def format_day(day: dt.date, locale: str) -> str:
    """A date as people write it in their language: `Dec 1, 2026` / `1 Des 2026`."""
    return format_date(day, format="medium", locale=_CLDR[normalize_locale(locale)])


def preload(locale: str) -> None:
    """Load what formatting and parsing in `locale` read at first use: its message catalog and
    its CLDR data (a few tens of milliseconds a language, otherwise paid by a first request)."""
    _catalog(locale)
    Locale.parse(_CLDR[locale]).plural_form(2)
    format_number(1240.5, locale)
    format_day(dt.date(2026, 1, 1), locale)


def cldr_locale(locale: str) -> str:
    """The Babel/CLDR identifier used for parsing and formatting in `locale`."""
    return _CLDR[normalize_locale(locale)]
