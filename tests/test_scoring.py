"""`/okr score KR-7 0.7 [note]` (SPEC §8, issue #9 item 5) through the real HTTP edge on both
databases: the score beside okrbot's suggestion, in the caller's language; bad scores and
callers refused with nothing stored; the score kept when the cycle closes; a closed KR
refusing a new score."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commandtext import read_score
from bot.replies.scores import read_scores
from bot.sandbox import Sandbox
from tests.test_app_http import text_of
from tests.test_closing import NOW, box, close, kr

__all__ = ["box"]  # the sandbox fixture, shared with the closing tests


@pytest.mark.parametrize(
    ("text", "score", "note"),
    [
        ("0.7", 0.7, ""),
        ("0,7 - telat rilis", 0.7, "telat rilis"),
        ("70%", 0.7, ""),
        ("80 % — vendor late", 0.8, "vendor late"),
        ("1 launched on time", 1.0, "launched on time"),
        (".5: half", 0.5, "half"),
        ("0", 0.0, ""),
    ],
)
def test_a_score_is_read_from_0_to_1_or_as_a_percent(text: str, score: float, note: str) -> None:
    read = read_score(text)
    assert read is not None and (read.value, read.rest) == (score, note)


@pytest.mark.parametrize("text", ["7", "120%", "-0.2", "good", "", "abc 0.7"])
def test_what_is_no_score_is_refused(text: str) -> None:
    assert read_score(text) is None


async def test_okr_score_records_the_score_beside_the_suggestion(box: Sandbox) -> None:
    english = text_of(await box.command("/okr", "score KR-1 0.7 launched late", user_id="U0ALICE"))
    assert "Scored KR-1 *Increase NPS from 70 to 80*: 0.7 (suggested 0.4)." in english
    assert "Retrospective: launched late" in english
    # Bob writes in Bahasa Indonesia, with a percent and an alias of his KR.
    indonesian = text_of(
        await box.command("/okr", "score reply time 80% - vendor telat", user_id="U0BOB")
    )
    assert "Nilai KR-2 *Reduce average reply time from 6 h to 4 h*: 0,8 (saran 0,4)." in indonesian
    assert "Retrospektif: vendor telat" in indonesian
    nps, reply_time = await kr(box.database, 1), await kr(box.database, 2)
    assert (nps.score, nps.score_note, nps.score_suggested) == (0.7, "launched late", False)
    assert (reply_time.score, reply_time.score_note) == (0.8, "vendor telat")


async def test_a_bad_score_or_caller_stores_nothing(box: Sandbox) -> None:
    await box.command("/okr", "score KR-1 0.7", user_id="U0ALICE")
    usage = text_of(await box.command("/okr", "score KR-1 7", user_id="U0ALICE"))
    assert "Write it as `/okr score KR-7 0.7 [note]`" in usage
    assert "Write it as" in text_of(await box.command("/okr", "score", user_id="U0ALICE"))
    other = text_of(await box.command("/okr", "score KR-1 0.2", user_id="U0CAROL"))
    assert "Only the owner of KR-1" in other
    assert (await kr(box.database, 1)).score == 0.7


async def test_a_score_is_kept_at_close_and_a_closed_kr_takes_no_new_one(box: Sandbox) -> None:
    await box.command("/okr", "score KR-1 0.7 launched late", user_id="U0ALICE")
    closed = await close(box, now=NOW)
    kept = {k.short_id: (k.score, k.suggested) for k in closed.krs}
    assert kept["KR-1"] == (0.7, False) and kept["KR-2"] == (0.4, True)
    refused = text_of(await box.command("/okr", "score KR-1 0.9", user_id="U0ALICE"))
    assert "KR-1 is closed with cycle 2026-Q4; it carries on as KR-6" in refused
    assert (await kr(box.database, 1)).score == 0.7


@pytest.mark.parametrize(
    ("text", "scores", "as_suggested", "unread"),
    [
        ("1: 0.7 - launched late", [(1, 0.7, "launched late")], False, []),
        ("1: 70%\n2: 1", [(1, 0.7, ""), (2, 1.0, "")], False, []),
        ("1) 0,6 telat rilis; 2: 80%", [(1, 0.6, "telat rilis"), (2, 0.8, "")], False, []),
        ("• KR-2: 0.4", [(2, 0.4, "")], False, []),
        ("as suggested", [], True, []),
        ("Sesuai saran", [], True, []),
        ("1: 0.9\nas suggested", [(1, 0.9, "")], True, []),
        ("1: 74", [], False, ["1: 74"]),
        ("3: 0.5", [], False, ["3: 0.5"]),  # the DM listed two KRs
        ("went well overall", [], False, ["went well overall"]),
        ("1: 0.2\n1: 0.3", [(1, 0.3, "")], False, []),  # the later line wins
    ],
)
def test_a_reply_to_the_scoring_dm_is_read_line_by_line(
    text: str, scores: list[tuple[int, float, str]], as_suggested: bool, unread: list[str]
) -> None:
    reading = read_scores(text, count=2)
    assert [(s.n, s.score, s.note) for s in reading.scores] == scores
    assert (reading.as_suggested, list(reading.unread)) == (as_suggested, unread)


@given(st.text(max_size=200), st.integers(min_value=0, max_value=30))
def test_any_text_reads_without_an_exception(text: str, count: int) -> None:
    reading = read_scores(text, count)
    assert all(1 <= s.n <= count and 0 <= s.score <= 1 for s in reading.scores)
