"""Every message in the code has an Indonesian translation using the same placeholders."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot import i18n, warmup
from bot.i18n import _catalog, format_day, format_number, normalize_locale, t, tn
from bot.i18n.catalog import PACKAGES, ROOT, extract, placeholders
from bot.replies import read_reply
from bot.warmup import warm_up

MESSAGES = sorted({message.id for message in extract() if message.id}, key=str)


def test_the_code_has_messages_to_translate() -> None:
    assert len(MESSAGES) > 20


@pytest.mark.parametrize("msgid", MESSAGES)
def test_message_is_translated_to_indonesian(msgid: str | tuple[str, ...]) -> None:
    key = msgid[0] if isinstance(msgid, tuple) else msgid
    translated = _catalog("id").get(key)
    assert translated, f"no Indonesian translation for {key!r}: run scripts/i18n-update"
    forms = translated if isinstance(translated, tuple) else (translated,)
    assert all(forms), f"an empty plural form for {key!r}"
    for form in forms:
        assert placeholders(form) == placeholders(key), form


def test_translation_and_fallback() -> None:
    assert t("id", "Share in channel") == "Bagikan di kanal"
    assert t("en", "Share in channel") == "Share in channel"
    assert t("id", "OKR status: {teams}", teams="Sales") == "Status OKR: Sales"
    assert t("id", "a sentence nobody translated") == "a sentence nobody translated"


def test_counted_phrases() -> None:
    assert tn("en", "{count} update", "{count} updates", 1) == "1 update"
    assert tn("en", "{count} update", "{count} updates", 3) == "3 updates"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("id-ID", "id"), ("in", "id"), ("en-GB", "en"), ("fr-FR", "en"), (None, "en")],
)
def test_slack_locales_map_to_supported_ones(value: str | None, expected: str) -> None:
    assert normalize_locale(value) == expected


def test_numbers_and_dates_follow_the_locale() -> None:
    assert format_number(1240.5, "id") == "1.240,5"
    assert format_number(1240.5, "en") == "1,240.5"
    assert format_number(74, "en") == "74"
    assert format_number(1e26, "id") == "1E26"  # past Babel's plain pattern: never an error
    assert format_day(dt.date(2026, 12, 1), "id") == "1 Des 2026"


def test_no_literal_message_hides_inside_an_f_string() -> None:
    """Babel cannot extract `t(locale, "…")` written inside an f-string's braces."""
    hidden = re.compile(r"\{t\(\s*\w+\s*,\s*['\"]")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if hidden.search(line)
    ]
    assert offenders == []


def test_warm_up_loads_every_language_and_reads_a_whole_reply_in_each() -> None:
    # The warm-up only spares a fresh process's first replies if it takes the reader through
    # what they meet: CLDR numbers, scales, confidence, a note, a duration, a status.
    _catalog.cache_clear()
    warm_up()
    assert _catalog.cache_info().currsize == len(i18n.LOCALES)
    for locale in i18n.LOCALES:
        reading = read_reply(warmup._SAMPLE_REPLY, warmup._SAMPLE_ITEMS, locale=locale)
        assert [(u.n, u.value, u.confidence, u.status) for u in reading.updates] == [
            (1, 1_240_500, None, None),
            (2, 74, 8, None),
            (3, 4.5, None, None),
            (4, None, None, "done"),
        ]
        assert reading.updates[1].note == "vendor late"
        assert not reading.unread
