"""The member's items: how replies may name them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.replies.patterns import _TOKEN_RE, _WORD_RE
from bot.replies.words import (
    ALL_WORDS,
    AMBIGUOUS_MILLION,
    CONFIDENCE_WORDS,
    COURTESY_WORDS,
    CURRENCY_WORDS,
    DATE_KEYWORDS,
    FILLER_WORDS,
    GENERIC_WORDS,
    INITIATIVE_STATUS_WORDS,
    KR_STATUS_WORDS,
    MONTHS,
    MULTIPLIERS,
    NO_CHANGE_PHRASES,
    NOTE_LABELS,
    NOTE_WORDS,
    PERCENT_WORDS,
    RELATIVE_WORDS,
    SAME_WORDS,
    SKIP_WORDS,
    STOPWORDS,
    TARGET_CONNECTORS,
    TIME_UNITS,
)

if TYPE_CHECKING:
    from bot.replies.model import Item


def _norm(token: str) -> str:
    """Case-folded, with an English plural `s` dropped so `ticket` names `tickets`."""
    word = token.casefold()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    """Normalised word and digit tokens of a text (cached: the same titles come back in every
    member's reply)."""
    return tuple(_norm(token) for token in _TOKEN_RE.findall(text))


def _reserved_words() -> frozenset[str]:
    """Words the reader gives a meaning of its own; a title word among them names nothing."""
    tables: Iterable[str] = (
        *KR_STATUS_WORDS, *INITIATIVE_STATUS_WORDS, *SAME_WORDS, *SKIP_WORDS,
        *NO_CHANGE_PHRASES, *CONFIDENCE_WORDS, *NOTE_LABELS, *NOTE_WORDS, *FILLER_WORDS,
        *RELATIVE_WORDS, *MONTHS, *DATE_KEYWORDS, *CURRENCY_WORDS, *PERCENT_WORDS,
        *MULTIPLIERS, *TIME_UNITS, *COURTESY_WORDS, *ALL_WORDS, *STOPWORDS, *GENERIC_WORDS,
    )  # fmt: skip
    return frozenset(token for phrase in tables for token in _tokens(phrase))


_RESERVED = _reserved_words()
_VALUE_WORDS: frozenset[str] = frozenset(
    _norm(word)
    for word in (*CURRENCY_WORDS, *PERCENT_WORDS, *MULTIPLIERS, *TIME_UNITS, AMBIGUOUS_MILLION)
)


@dataclass(frozen=True, slots=True)
class _Index:
    """How the member's items may be named in a reply."""

    items: Mapping[int, Item]
    phrases: Mapping[tuple[str, ...], int | None]  # None: names two items, so names neither
    loose: frozenset[tuple[str, ...]]  # single title words: too weak to claim a value before them
    first_tokens: frozenset[str]
    max_len: int
    known: Mapping[int, frozenset[str]]  # words that may sit beside the item's value
    units: Mapping[int, tuple[str, ...]]


def _index(items: Sequence[Item]) -> _Index:
    """The item index, cached: the same prompt is read many times."""
    key = tuple(items)
    try:
        return _cached_index(key)
    except TypeError:  # an Item built with unhashable fields still reads, uncached
        return _build_index(key)


@lru_cache(maxsize=256)
def _cached_index(items: tuple[Item, ...]) -> _Index:
    return _build_index(items)


def _build_index(items: tuple[Item, ...]) -> _Index:
    """Every way the reply may name each item, and the words that may sit beside its value."""
    by_n = {item.n: item for item in items}
    levels = _phrase_levels(by_n.values())
    phrases: dict[tuple[str, ...], int | None] = {}
    for level in levels:  # aliases first, then whole titles, units, title words
        for phrase, owners in level.items():
            if phrase not in phrases:
                phrases[phrase] = next(iter(owners)) if len(owners) == 1 else None
    return _Index(
        items=by_n,
        phrases=phrases,
        loose=frozenset(levels[-1]) - frozenset().union(*levels[:-1]),
        first_tokens=frozenset(phrase[0] for phrase in phrases),
        max_len=max((len(phrase) for phrase in phrases), default=0),
        known={n: _known_words(item) for n, item in by_n.items()},
        units={n: _tokens(item.unit) for n, item in by_n.items()},
    )


def _phrase_levels(items: Iterable[Item]) -> list[dict[tuple[str, ...], set[int]]]:
    """Phrases naming each item, by priority: aliases, titles, units, distinctive title words.
    A unit settles a title word two items share: `visitors` is the item counted in visitors."""
    aliases: dict[tuple[str, ...], set[int]] = {}
    titles: dict[tuple[str, ...], set[int]] = {}
    units: dict[tuple[str, ...], set[int]] = {}
    words: dict[tuple[str, ...], set[int]] = {}
    for item in items:
        for alias in item.aliases:
            tokens = _tokens(alias)
            if tokens and len("".join(tokens)) >= 2:
                aliases.setdefault(tokens, set()).add(item.n)
        title = _tokens(item.title)
        if title:
            titles.setdefault(title, set()).add(item.n)
        unit = _tokens(item.unit)
        if len(unit) == 1 and _distinctive(unit[0]):
            units.setdefault(unit, set()).add(item.n)
        for token in set(title):
            if _distinctive(token):
                words.setdefault((token,), set()).add(item.n)
    return [aliases, titles, units, words]


def _distinctive(token: str) -> bool:
    """A title word that may name its item alone: long enough, and no word of ours."""
    return len(token) >= 3 and token.isalpha() and token not in _RESERVED


def _known_words(item: Item) -> frozenset[str]:
    """Words of the item's own title, unit and aliases."""
    tokens = [*_tokens(item.title), *_tokens(item.unit)]
    for alias in item.aliases:
        tokens.extend(_tokens(alias))
    return frozenset(token for token in tokens if token.isalpha())


def without_title(title: str, text: str) -> str:
    """`text` with any pasted copy of the item's title blanked out.

    A text shorter than the title's letters cannot hold it (a case-blind match still matches
    one character with one), so the usual "3: 74" never compiles the title's pattern."""
    words = _title_words(title)
    if len(words) < 2 or len(text) < sum(len(word) for word in words):
        return text
    return _title_regex(words).sub(" ", text)


@lru_cache(maxsize=4096)
def _title_words(title: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", title))


@lru_cache(maxsize=4096)
def _title_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    """The item's own title, as someone pasting the prompt line back would write it. Compiled
    only for an item a reply names (compiling one for every item cost more than the rest of
    the reading), and kept: the same titles come back every round."""
    return re.compile(r"\W*".join(re.escape(word) for word in words), re.IGNORECASE)


def _has_unknown_words(text: str, known: frozenset[str]) -> bool:
    """Whether any word is neither filler, a value word nor the item's own."""
    return any(not _is_known(word, known) for word in _WORD_RE.findall(text))


def _is_known(word: str, known: frozenset[str]) -> bool:
    """Whether a word may stand beside a value without making it doubtful."""
    token = _norm(word)
    return (
        token in known
        or word.casefold() in FILLER_WORDS
        or token in _VALUE_WORDS
        or word.casefold() in TARGET_CONNECTORS
    )
