"""Numbers beside the value (issue #12): a date, a count of people or things, a clock time or
another metric's percentage never becomes an item's value, wherever it sits in the sentence,
in English and Bahasa Indonesia; the item's own value is still read, and an initiative's
status said among such numbers is still recorded."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.replies import Item, ItemUpdate, read_reply

ITEMS = (
    Item(1, "kr", "Increase NPS from 70 to 80", "points", ("nps",), 72.0),
    Item(2, "kpi", "Tickets per month", "tickets", ("tickets",), 1180.0),
    Item(3, "initiative", "Add chat to the mobile app", "", ("chat",), status="in_progress"),
)

_DAY = st.integers(1, 28)
_MONTH = st.sampled_from(["Oct", "Nov", "Dec", "Okt", "Des", "Jan"])
_DATES = st.one_of(
    st.builds("since {} {}".format, _MONTH, _DAY),
    st.builds("on {} {}".format, _MONTH, _DAY),
    st.builds("sejak tgl {}".format, _DAY),
    st.builds("per tanggal {}".format, _DAY),
    st.builds("on the {}th".format, st.integers(4, 20)),
    st.builds("due {}/{}".format, st.integers(1, 12), _DAY),
)
_CLOCK = st.one_of(
    st.builds("at {}pm".format, st.integers(1, 11)),
    st.builds("at {}:{:02d}".format, st.integers(7, 22), st.sampled_from([0, 15, 30, 45])),
    st.builds("jam {} malam".format, st.integers(7, 11)),
    st.builds("jam {} pagi".format, st.integers(1, 10)),
    st.builds("pukul {}.30".format, st.integers(8, 17)),
)
_COUNTS = st.builds(
    "{} {} {}".format,
    st.sampled_from(["with", "dengan", "after", "even with", "setelah"]),
    st.integers(2, 40),
    st.sampled_from(["people on leave", "vendors", "engineers out", "orang cuti", "vendor"]),
)
_OTHER_METRIC = st.builds(
    "{} {}%".format,
    st.sampled_from(["while open rate was", "sedangkan open rate", "padahal churn cuma"]),
    st.integers(5, 95),
)
_CONTEXT = st.one_of(_DATES, _CLOCK, _COUNTS, _OTHER_METRIC)
_MOVES = st.sampled_from(
    ["", "is", "now", "rose to", "fell to", "crept up to", "went up to", "turun ke", "naik jadi",
     "sekarang", "merangkak naik ke", "is at"]
)  # fmt: skip


def _numbers_in(text: str) -> set[float]:
    return {float(token) for token in "".join(c if c.isdigit() else " " for c in text).split()}


@settings(max_examples=400, deadline=None)
@given(
    move=_MOVES,
    value=st.integers(60, 95),
    context=_CONTEXT,
    after=st.booleans(),
    locale=st.sampled_from(["en", "id"]),
)
def test_a_number_of_something_else_never_becomes_the_value(
    move: str, value: int, context: str, after: bool, locale: str
) -> None:
    assume(value not in _numbers_in(context))
    said = f"NPS {move} {value}".replace("  ", " ")
    text = f"{said} {context}" if after else f"{context.capitalize()}, {said}"
    reading = read_reply(text, ITEMS, locale=locale)
    values = {update.value for update in reading.updates} | {
        candidate.value for question in reading.questions for candidate in question.candidates
    }
    assert not (values & _numbers_in(context)), (text, reading)
    assert reading.updates == (ItemUpdate(1, value=float(value)),), (text, reading)


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(
        [("is underway", "in_progress"), ("shipped", "done"), ("beres ✅", "done"),
         ("sudah jalan", "in_progress"), ("dropped", "dropped"), ("batal", "dropped")]
    ),
    context=_CONTEXT,
)  # fmt: skip
def test_an_initiatives_status_is_read_among_other_numbers(
    status: tuple[str, str], context: str
) -> None:
    text = f"chat {status[0]}, {context}"
    reading = read_reply(text, ITEMS)
    assert reading.updates == (ItemUpdate(3, status=status[1]),), (text, reading)
    assert not reading.questions


@settings(max_examples=200, deadline=None)
@given(
    value=st.integers(1000, 1900),
    wrap=st.sampled_from(["*{}*", "_{}_", "{} :fire:", ":chart_with_upwards_trend: {}", "*{}* 🎉"]),
    name=st.sampled_from(["*tickets*", "_tickets_", "tickets", "*Tickets:*"]),
)
def test_slack_formatting_around_names_and_values_is_read_through(
    value: int, wrap: str, name: str
) -> None:
    text = f"{name} {wrap.format(value)}"
    assert read_reply(text, ITEMS).updates == (ItemUpdate(2, value=float(value)),), text
