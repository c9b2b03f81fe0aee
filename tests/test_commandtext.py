"""The words of `/okr update` and `/kpi log`: a value means the same as in a check-in reply."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commandtext import read_value
from bot.replies import Item, read_reply

UNITS = ["", "%", "ms", "hours", "jam", "menit", "Rp", "USD", "$", "k", "tickets", "NPS"]


@settings(max_examples=600, deadline=None)
@given(
    whole=st.integers(min_value=-(10**9), max_value=10**12),
    decimals=st.sampled_from(["", ".5", ",5", ".25", ",75", ".05", ",01"]),
    unit=st.sampled_from(UNITS),
    last=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
    locale=st.sampled_from(["en", "id"]),
)
def test_a_plain_number_reads_as_the_reply_reader_reads_it(
    whole: int, decimals: str, unit: str, last: float | None, locale: str
) -> None:
    # `read_value` answers a lone number of at most two decimals without the reader: the two
    # must agree, in both locales and whatever the unit or the last value.
    number = f"{whole}{decimals}"
    reading = read_reply(
        f"1: {number}", [Item(n=1, kind="kr", title="A KR", unit=unit, last=last)], locale=locale
    )
    (update,) = reading.updates
    found = read_value(number, title="A KR", unit=unit, last=last, locale=locale)
    assert found is not None
    assert (found.value, found.rest) == (update.value, "")


def test_values_with_separators_units_and_notes_go_through_the_reader() -> None:
    def read(text: str, unit: str = "", locale: str = "en") -> tuple[float, str] | None:
        found = read_value(text, title="A KR", unit=unit, last=1000.0, locale=locale)
        return None if found is None else (found.value, found.rest)

    assert read("1.240", locale="id") == (1240.0, "")
    assert read("74 launched late") == (74.0, "launched late")
    assert read("4 jam 30 menit", unit="jam", locale="id") == (4.5, "")
    assert read("52k") == (52000.0, "")
    assert read("soon") is None
