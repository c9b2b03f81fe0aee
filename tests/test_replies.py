"""The reply reader: the shared public cases, our own cases, and properties over any text."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import NumberFormatError, parse_decimal
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.replies import Item, ItemUpdate, Reading, item_from_dict, read_reply, reading_to_dict
from bot.replies.index import without_title
from bot.replies.values import _UNSURE, _babel_locale, _plain_decimal
from bot.replycases import check_case

PUBLIC_CASES = Path(__file__).resolve().parents[2] / "shared" / "parser-cases.jsonl"
OWN_CASES = Path(__file__).parent / "data" / "reply_cases.jsonl"

SUPPORT_ITEMS = (
    Item(1, "kr", "Increase NPS from 70 to 80", "points", ("nps", "net promoter score"), 72.0),
    Item(2, "kr", "Reduce average reply time from 6h to 4h", "h", ("reply time", "art"), 5.0),
    Item(3, "kpi", "Tickets per month", "tickets", ("tickets",), 1180.0),
    Item(4, "initiative", "Add chat to the mobile app", "", ("chat",), status="in_progress"),
)
INDONESIAN_ITEMS = (
    Item(1, "kr", "Naikkan CLV ke Rp 1.200.000", "Rp", ("clv",), 950000.0),
    Item(2, "kr", "Konversi trial ke pelanggan dari 8% ke 12%", "%", ("konversi",), 9.5),
    Item(3, "kpi", "Trafik web", "kunjungan", ("trafik", "trafik web"), 48000.0),
)


def _cases(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _check(case: dict) -> None:
    ok, result = check_case(case)
    assert ok, f"{case['id']}: {case['text']!r} expected {case['expect']}, got {result['got']}"


@pytest.mark.skipif(not PUBLIC_CASES.exists(), reason="shared parser cases not checked out")
@pytest.mark.parametrize("case", _cases(PUBLIC_CASES), ids=lambda case: case["id"])
def test_public_case(case: dict) -> None:
    _check(case)


@pytest.mark.parametrize("case", _cases(OWN_CASES), ids=lambda case: case["id"])
def test_own_case(case: dict) -> None:
    _check(case)


def test_own_cases_are_plenty_and_in_both_languages() -> None:
    cases = _cases(OWN_CASES)
    assert len(cases) >= 80
    assert {case["locale"] for case in cases} == {"en", "id"}
    assert len({case["id"] for case in cases}) == len(cases)


# --- what is shown back ------------------------------------------------------------------------


def test_chatter_alone_is_unread_so_the_bot_can_answer_with_help() -> None:
    reading = read_reply("hello!", SUPPORT_ITEMS)
    assert reading == Reading(updates=(), unread=("hello!",))


def test_chatter_beside_updates_is_not_shown_back() -> None:
    reading = read_reply("Hi team!\n1: 74\nthanks!", SUPPORT_ITEMS)
    assert reading.updates == (ItemUpdate(1, value=74.0),)
    assert reading.unread == ()


def test_a_line_that_reads_nothing_is_shown_back_and_the_rest_is_kept() -> None:
    reading = read_reply("1: 74\n9: 50\nI had 3 meetings", SUPPORT_ITEMS)
    assert reading.updates == (ItemUpdate(1, value=74.0),)
    assert reading.unread == ("9: 50", "I had 3 meetings")


def test_a_confidence_out_of_range_is_shown_back_but_the_value_is_kept() -> None:
    reading = read_reply("2: 4.5h, conf 12", SUPPORT_ITEMS)
    assert reading.updates == (ItemUpdate(2, value=4.5),)
    assert reading.unread == ("conf 12",)


def test_a_number_inside_a_note_is_not_a_value() -> None:
    reading = read_reply("tickets 1,240 - blocker: 2 engineers out sick", SUPPORT_ITEMS)
    assert reading.updates == (ItemUpdate(3, value=1240.0, note="2 engineers out sick"),)


def test_item_words_inside_a_note_name_no_item() -> None:
    reading = read_reply("NPS 74 - waiting on the chat vendor", SUPPORT_ITEMS)
    assert [update.n for update in reading.updates] == [1]


def test_updates_keep_the_order_of_the_text() -> None:
    reading = read_reply("tickets 1,200, nps 75, chat done", SUPPORT_ITEMS)
    assert [update.n for update in reading.updates] == [3, 1, 4]


# --- numbers and locales ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [
        ("trafik 1.240", "id", 1240.0),  # closer to the last value (48,000) than 1.24
        ("trafik 1,240", "id", 1240.0),
        ("konversi 10,5", "en", 10.5),  # `4,5`-style: never thousands
        ("clv Rp 1.050.000", "en", 1_050_000.0),
        ("clv 1,05 jt", "id", 1_050_000.0),
        ("clv 950 rb", "id", 950_000.0),
        ("trafik 52k", "id", 52_000.0),
    ],
)
def test_numbers_read_in_either_convention(text: str, locale: str, value: float) -> None:
    updates = read_reply(text, INDONESIAN_ITEMS, locale=locale).updates
    assert len(updates) == 1
    assert updates[0].value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [("1,240", "en", 1240.0), ("1,240", "id-ID", 1.24), ("1.240", "id", 1240.0)],
)
def test_without_a_last_value_a_lone_separator_follows_the_locale(
    text: str, locale: str, value: float
) -> None:
    items = (Item(1, "kpi", "Signups", "", ("signups",)),)
    (update,) = read_reply(f"signups {text}", items, locale=locale).updates
    assert update.value == pytest.approx(value)


def test_durations_are_converted_into_the_items_time_unit() -> None:
    items = (Item(1, "kpi", "First response time", "min", ("frt",), 42.0),)
    assert read_reply("frt 1h 5m", items).updates == (ItemUpdate(1, value=65.0),)
    assert read_reply("frt 0,5 jam", items, locale="id").updates == (ItemUpdate(1, value=30.0),)


# --- the public helpers ------------------------------------------------------------------------


def test_item_from_dict_reads_the_case_file_shape() -> None:
    item = item_from_dict(
        {"n": 2, "kind": "kr", "title": "Reply time", "unit": "h", "aliases": ["art"], "last": 5}
    )
    assert item == Item(2, "kr", "Reply time", "h", ("art",), 5.0)
    assert item_from_dict({"n": 1, "kind": "kpi", "title": "X", "last": None}).last is None


def test_item_from_dict_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        item_from_dict({"n": 1, "kind": "goal", "title": "X"})


def test_reading_to_dict_lists_only_the_fields_that_are_set() -> None:
    reading = Reading((ItemUpdate(1, value=74.0), ItemUpdate(4, status="done", note="shipped")))
    assert reading_to_dict(reading) == {
        "updates": [{"n": 1, "value": 74}, {"n": 4, "status": "done", "note": "shipped"}],
        "skip": False,
        "no_change": False,
        "unread": [],
        "questions": [],
    }


def test_an_item_said_unchanged_on_its_own_is_named_as_such() -> None:
    # `no change` of the whole reply confirms everything; of one item, only that item.
    reading = read_reply("NPS same as last week\nreply time 4.5", SUPPORT_ITEMS)
    assert (reading.updates, reading.same, reading.no_change) == (
        (ItemUpdate(2, 4.5),),
        (1,),
        False,
    )
    assert reading_to_dict(reading)["same"] == [1]
    assert read_reply("trafik tetap, clv 1,1 jt", INDONESIAN_ITEMS, locale="id").same == (3,)
    assert read_reply("no change", SUPPORT_ITEMS) == Reading(updates=(), no_change=True)
    assert read_reply("skip", SUPPORT_ITEMS).same == ()


def test_readings_are_immutable() -> None:
    reading = read_reply("1: 74", SUPPORT_ITEMS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.skip = True  # type: ignore[misc]


def test_odd_inputs_read_as_nothing() -> None:
    assert read_reply("", SUPPORT_ITEMS) == Reading(updates=())
    assert read_reply("1: 74", ()) == Reading(updates=(), unread=("1: 74",))
    assert read_reply(None, SUPPORT_ITEMS) == Reading(updates=())  # type: ignore[arg-type]
    assert read_reply("1: 74", SUPPORT_ITEMS, locale="xx").updates == (ItemUpdate(1, 74.0),)


# --- properties --------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        *"0123456789",
        ":", ")", "(", ".", ",", " ", "  ", "\n", "-", "=", "#", "/", "/10", "%", "k", "rb",
        "jt", "M", "m", "h", "jam", "menit", "4h30m", "Rp", "$", "€", "nps", "reply time",
        "tickets", "chat", "web", "conf", "keyakinan", "on track", "at risk", "berisiko",
        "done", "selesai", "dropped", "blocker:", "kendala:", " - ", "because", "karena", "same",
        "sama", "skip", "lewati", "no change", "tetap", "<@U1>", "<http://a.b/1|x>", ":tada:",
        "*", "_", "~", "`", "&gt;", "1,240", "1.240", "4,5", "1.050.000", "item", "due 12/1",
        "from", "to", "->", "but", "all", "and", "é", "٤", "１", "\u200b", "🎉", "✅", "+", "−",
        "–", "'", "\t", "\r\n", "9:", "99)", "(1)", "3 & 4", "1:74",
        # issue #12: narrative context, movement, statuses in sentences, Slack emoji
        "fell to", "rose to", "crept up to", "turun ke", "naik jadi", "since Oct 14", "tgl 20",
        "jam 9 malam", "at 5pm", "4 people", "3 vendor", "2 new hires", "over 2 weeks",
        "while open rate was", "31%", "underway", "beres", "80% done", ":100:", ":fire:",
        ":arrow_right:", "➡", "but now", "tapi sekarang", "!! ", ". ",
    ]
)  # fmt: skip
_REPLIES = st.one_of(st.text(), st.lists(_PIECES, max_size=30).map("".join))
_ITEM_SETS = st.sampled_from([SUPPORT_ITEMS, INDONESIAN_ITEMS, SUPPORT_ITEMS[:1], ()])


@settings(max_examples=3000, deadline=None)
@given(text=_REPLIES, items=_ITEM_SETS, locale=st.sampled_from(["en", "id", "id-ID", ""]))
@example(text="1&4:0:0", items=SUPPORT_ITEMS, locale="en")  # once both unread and asked about
def test_any_text_reads_without_raising_and_within_the_rules(
    text: str, items: tuple[Item, ...], locale: str
) -> None:
    reading = read_reply(text, items, locale=locale)
    assert isinstance(reading, Reading)
    numbers = [update.n for update in reading.updates]
    assert set(numbers) <= {item.n for item in items}
    assert len(numbers) == len(set(numbers))
    for update in reading.updates:
        assert update.confidence is None or 0 <= update.confidence <= 10
    assert not (reading.updates and (reading.skip or reading.no_change))
    assert set(reading.same) <= {item.n for item in items} - set(numbers)
    assert not (reading.same and (reading.skip or reading.no_change))
    assert all(fragment and fragment == fragment.strip() for fragment in reading.unread)
    for question in reading.questions:  # a doubt: a fragment and likely readings of it
        assert question.text and question.text not in reading.unread
        assert question.candidates and all(c.value is not None for c in question.candidates)
        assert {c.n for c in question.candidates} <= {item.n for item in items}
    json.dumps(reading_to_dict(reading))


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(st.sampled_from("aAbBıİsSßkK ")),
    text=st.text(st.sampled_from("aAbBıİsSßkK -.:1")),
)
def test_a_pasted_title_is_blanked_exactly_as_its_pattern_would(title: str, text: str) -> None:
    """The length shortcut in `without_title` never changes what the title's pattern blanks."""
    words = re.findall(r"\w+", title)
    pattern = re.compile(r"\W*".join(map(re.escape, words)), re.IGNORECASE)
    expected = pattern.sub(" ", text) if len(words) >= 2 else text
    assert without_title(title, text) == expected


@settings(max_examples=1500, deadline=None)
@given(
    number=st.from_regex(
        r"[0-9]{1,9}([.,][0-9]{1,6})?|[0-9]{1,3}([.,][0-9]{3}){1,3}", fullmatch=True
    ),
    locale=st.sampled_from(["en", "id"]),
)
@example(number="74.5", locale="id")
@example(number="1,240", locale="en")
@example(number="007", locale="en")
def test_a_plain_number_reads_as_babel_reads_it(number: str, locale: str) -> None:
    # The reader reads plain digits itself, without Babel; where it is sure, Babel's strict
    # reading must agree, in both locales.
    expected: Decimal | None
    try:
        expected = parse_decimal(number, locale=_babel_locale(locale), strict=True)
    except NumberFormatError:
        expected = None
    plain = _plain_decimal(number, locale)
    if plain is not _UNSURE:
        assert plain == expected
