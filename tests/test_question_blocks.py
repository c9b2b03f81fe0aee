"""Questions about a check-in reply as Block Kit: built and parsed as a pair, held to Slack's
limits, in the member's language; and the reader's doubts turned into them."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.blocks import ids
from bot.blocks.questions import build_answered, build_question, parse_pick
from bot.progress import KrStatus
from bot.replies import ItemUpdate, Question
from bot.services.checkins import Answered, Ask, CheckinItem, Choice
from bot.services.checkins.questions import asks_of, reply_version
from bot.services.updates import Change
from bot.standin.validation import block_problems
from storage.models import ReplyMessage

NPS = Choice(7, 0, "kr", 11, "Increase NPS <!channel>", "points", 71.0, 8, None, "vendor late")
TICKETS = Choice(7, 0, "kpi", 3, "Tickets per month", "tickets", 1240.5)


def buttons(blocks: list[dict]) -> list[dict]:
    return blocks[-1]["elements"]


def test_one_candidate_is_a_yes_or_no_question_in_the_members_language() -> None:
    message = build_question(Ask(7, 0, "nps around 71 I think", (NPS,)), "id")
    assert block_problems(message.blocks, limit=50) == []
    assert "Apakah 71 points untuk *Increase NPS &lt;!channel&gt;*?" in str(message.blocks)
    assert [b["text"]["text"] for b in buttons(message.blocks)] == ["Ya", "Tidak"]
    assert [b["action_id"] for b in buttons(message.blocks)] == [
        ids.CHECKIN_PICKS[0],
        ids.CHECKIN_NONE,
    ]
    assert "*" not in message.text


def test_several_items_get_a_button_each_and_none_of_these() -> None:
    message = build_question(Ask(7, 1, "74", (NPS, TICKETS)), "en")
    labels = [b["text"]["text"] for b in buttons(message.blocks)]
    assert labels == [
        "Increase NPS <!channel>: 71 points",
        "Tickets per month: 1,240.5 tickets",
        "None of these",
    ]
    assert "Which item is “74” about?" in message.blocks[0]["text"]["text"]
    assert len({b["action_id"] for b in buttons(message.blocks)}) == 3  # unique in the block


def test_a_button_says_what_it_records_and_parses_back() -> None:
    message = build_question(Ask(7, 0, "nps around 71 I think", (NPS,)), "en")
    yes, no = buttons(message.blocks)
    picked = parse_pick(yes["value"])
    assert picked is not None and picked.choice == NPS
    assert (picked.reply_id, picked.question, picked.text) == (7, 0, "nps around 71 I think")
    declined = parse_pick(no["value"])
    assert declined is not None and declined.choice is None


@pytest.mark.parametrize(
    "value",
    ["", "x", "[]", "3", json.dumps({"r": 1}), json.dumps({"r": 1, "q": 0, "k": "goal", "i": 2})],
)
def test_a_value_okrbot_did_not_write_is_no_pick(value: str) -> None:
    assert parse_pick(value) is None


def test_long_texts_stay_within_slacks_limits() -> None:
    long = Choice(7, 0, "kpi", 3, "T" * 300, "tickets", 1.0, note="n" * 3000)
    message = build_question(Ask(7, 0, "é" * 3000, (long, long, long, long, long)), "en")
    assert block_problems(message.blocks, limit=50) == []
    assert all(len(b["value"]) <= 2000 for b in buttons(message.blocks))


def test_what_replaces_an_answered_question() -> None:
    change = Change(
        "kr", 11, "KR-1 NPS", "points", 74.0, 71.0, progress=0.1, status=KrStatus.AT_RISK
    )
    picked = parse_pick(json.dumps({"r": 7, "q": 0, "x": "about 71"}))
    assert picked is not None
    recorded = build_answered(Answered("recorded", 7, (change,)), picked, "en")
    assert block_problems(recorded.blocks, limit=50) == []
    assert "Recorded from your answer:" in recorded.text
    assert buttons(recorded.blocks)[0]["action_id"] == ids.CHECKIN_UNDO
    declined = build_answered(Answered("declined", 7), picked, "id")
    assert declined.text == "Baik, tidak ada yang saya catat dari “about 71”."


def test_the_readers_doubts_become_asks_tied_to_items() -> None:
    items = (
        CheckinItem(1, "kr", 11, "NPS", "points"),
        CheckinItem(2, "kpi", 3, "Tickets", "tickets"),
    )
    questions = (
        Question("74", (ItemUpdate(1, 74.0), ItemUpdate(2, 74.0), ItemUpdate(9, 74.0))),
        Question("gone", (ItemUpdate(9, 1.0),)),
    )
    reply = ReplyMessage(id=5, workspace_id="T1", channel_id="D1", ts="1.1", user_id="U1")
    (ask,) = asks_of(reply, questions, items=items)
    assert [(c.kind, c.ref_id, c.value, c.reply_id) for c in ask.choices] == [
        ("kr", 11, 74.0, 5),
        ("kpi", 3, 74.0, 5),
    ]
    assert ask.version == 0
    reply.edited_at = dt.datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=dt.UTC)
    (edited,) = asks_of(reply, questions, items=items)
    assert edited.version == reply_version(reply) != 0
    picked = parse_pick(buttons(build_question(edited, "en").blocks)[0]["value"])
    assert picked is not None and picked.version == edited.version
