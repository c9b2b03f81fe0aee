"""Pure parts of the check-in loop: message builders, schedules, `/okr away` dates, pacing,
finding a prompt in a DM's history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks.checkin import build_confirmation, build_prompt, build_reminder, build_undone
from bot.progress import KpiStatus, KrStatus
from bot.services.checkins import (
    CheckinItem,
    ReplyResult,
    as_listed,
    latest_slot,
    listing_of,
    parse_until,
    round_key,
)
from bot.services.updates import Change
from bot.standin.faults import TokenBucket
from scheduler.jobs import PROMPT_EVENT, prompt_in
from scheduler.pacing import Pace, retry_after

ITEMS = (
    CheckinItem(
        n=1,
        kind="kr",
        ref_id=1,
        title="Increase NPS <!channel>",
        unit="points",
        short_id="KR-1",
        last=74,
        target=80,
        progress=0.4,
        status=KrStatus.ON_TRACK,
    ),
    CheckinItem(
        n=2,
        kind="kpi",
        ref_id=3,
        title="Tickets per month",
        unit="tickets",
        last=1240.5,
        target=1000,
        status=KpiStatus.OFF,
        period="2026-11",
    ),
    CheckinItem(
        n=3, kind="initiative", ref_id=9, title="Add chat", short_id="KR-1", status="in_progress"
    ),
)


def texts(blocks: list[dict]) -> str:
    for block in blocks:
        Block.parse(block).validate_json()
    return str(blocks)


def test_the_prompt_numbers_items_with_values_in_the_readers_format() -> None:
    message = build_prompt(ITEMS, "id", team_name="Support")
    text = texts(message.blocks)
    assert "*1.* `KR-1` Increase NPS &lt;!channel&gt;" in text
    assert "sekarang 74 points, target 80 points" in text
    assert "terakhir 1.240,5 tickets, target 1.000 tickets" in text
    assert "*3.* Add chat (KR-1)" in text and "berjalan" in text
    assert "`1: 74, keyakinan 8` · `3: selesai`" in text
    assert message.text.startswith("Check-in · Support")


def test_the_reminder_lists_the_items_again() -> None:
    message = build_reminder(ITEMS, "en", team_name="Support")
    assert "still open" in message.text and "Tickets per month" in texts(message.blocks)


def result(**fields: object) -> ReplyResult:
    return ReplyResult(reply_id=7, round_id=1, items=ITEMS, **fields)  # type: ignore[arg-type]


def test_a_confirmation_says_old_and_new_and_offers_undo() -> None:
    changes = (
        Change("kr", 1, "KR-1 NPS", "points", 74.0, 76.0, 0.6, KrStatus.ON_TRACK),
        Change("kpi", 3, "Tickets", "tickets", 1240.0, 1180.0, None, KpiStatus.WARN),
        Change("kr", 2, "KR-2 Tickets", "", 1240.0, 1180.0, 0.3, KrStatus.AT_RISK, "Tickets"),
        Change("initiative", 9, "Add chat", "", "in_progress", "done"),
    )
    message = build_confirmation(result(changes=changes, unread=("blah <b>",)), "en")
    text = texts(message.blocks)
    assert "*KR-1 NPS*: 74 points → 76 points · `▓▓▓▓▓▓░░░░` 60%" in text
    assert "*Tickets*: 1,240 tickets → 1,180 tickets" in text
    assert "(via KPI Tickets)" in text and "in progress → done" in text
    assert "I couldn't read “blah &lt;b&gt;”" in text
    assert message.blocks[-1]["elements"][0]["value"] == "7"


def test_unreadable_skip_and_no_items() -> None:
    unreadable = build_confirmation(result(unread=("hello",)), "en")
    assert "nothing was recorded" in unreadable.text
    assert all(block["type"] != "actions" for block in unreadable.blocks)
    skipped = build_confirmation(result(skipped=True), "id")
    assert skipped.text.startswith("Minggu ini dilewati")
    nothing = build_confirmation(ReplyResult(reply_id=1, round_id=None, items=()), "en")
    assert "no key results, KPIs or open initiatives" in nothing.text


def test_undone_says_what_was_put_back() -> None:
    message = build_undone([Change("kr", 1, "KR-1 NPS", "points", 76.0, 74.0)], "en")
    assert "76 points → 74 points" in texts(message.blocks)
    assert "already" in build_undone([], "en").text


JAKARTA_MONDAY_10 = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


def test_items_keep_the_numbers_their_prompt_gave_them() -> None:
    kr, kpi, _ = ITEMS
    listing = listing_of(ITEMS)
    assert listing == ["kr:1", "kpi:3", "initiative:9"]
    # Now: KR-1, a KR added since (listed second among KRs), the KPI; the initiative is done.
    added = CheckinItem(n=2, kind="kr", ref_id=7, title="Cut churn", short_id="KR-7")
    now = (kr, added, dataclasses.replace(kpi, n=3))
    renumbered = as_listed(now, listing)
    assert [(item.n, item.kind, item.ref_id) for item in renumbered] == [
        (1, "kr", 1),
        (2, "kpi", 3),
        (4, "kr", 7),  # after the prompt's three: 3 stays the initiative's, gone
    ]
    assert as_listed(now, None) == now and as_listed(now, []) == now


def test_latest_slot_in_the_teams_timezone() -> None:
    now = JAKARTA_MONDAY_10 + dt.timedelta(hours=2)
    slot = latest_slot("0 10 * * mon", "Asia/Jakarta", now, within=dt.timedelta(hours=6))
    assert slot == JAKARTA_MONDAY_10
    assert latest_slot("0 10 * * mon", "Asia/Jakarta", now, within=dt.timedelta(hours=1)) is None


def test_member_rounds_share_the_wall_time() -> None:
    jakarta = latest_slot("0 9 * * mon", "Asia/Jakarta", JAKARTA_MONDAY_10, within=dt.timedelta(1))
    assert jakarta is not None
    assert round_key(jakarta, per_member=True) == dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
    assert round_key(jakarta, per_member=False) == dt.datetime(2026, 11, 16, 2, tzinfo=dt.UTC)


TODAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-12-01", dt.date(2026, 12, 1)),
        ("Dec 1", dt.date(2026, 12, 1)),
        ("December 1st", dt.date(2026, 12, 1)),
        ("1 Des", dt.date(2026, 12, 1)),
        ("1 desember 2027", dt.date(2027, 12, 1)),
        ("3 Jan", dt.date(2027, 1, 3)),
        ("agu 17", dt.date(2027, 8, 17)),
        ("next week", None),
        ("31 Feb", None),
        ("", None),
    ],
)
def test_away_dates(text: str, day: dt.date | None) -> None:
    assert parse_until(text, TODAY) == day


def simulate(limit: float, burst: int, count: int) -> tuple[float, int]:
    """Send `count` calls through a Pace against Slack's token bucket; (seconds, 429s)."""
    bucket, pace = TokenBucket(limit, burst), Pace()
    now = limited = 0
    for _ in range(count):
        while True:
            sent = now = pace.reserve(now)
            wait = bucket.take(now)
            if wait == 0:
                pace.accepted(now)
                break
            limited += 1
            pace.limited(sent, now, max(1, -(-wait // 1)))
    return now, limited


@pytest.mark.parametrize(("limit", "burst"), [(10, 10), (5, 5), (20, 20), (10, 50)])
def test_the_pace_learns_the_limit_and_stays_near_it(limit: int, burst: int) -> None:
    seconds, limited = simulate(limit, burst, 500)
    minimum = (500 - burst) / limit
    assert seconds <= 1.15 * minimum
    assert limited <= 8


def test_retry_after_header_forms() -> None:
    assert retry_after({"Retry-After": ["3"]}) == 3
    assert retry_after({"retry-after": "1.5"}) == 1.5
    assert retry_after({}) == 1


def test_a_prompt_is_found_in_history_by_its_id_on_a_bot_message_only() -> None:
    def tagged(ts: str, prompt_id: int) -> dict:
        payload = {"prompt_id": prompt_id, "round_id": 3}
        return {"ts": ts, "metadata": {"event_type": PROMPT_EVENT, "event_payload": payload}}

    history = [
        {"ts": "5.0", "user": "U0ALICE", "text": "1: 74"},
        tagged("4.0", 8) | {"bot_id": "B0OKRBOT"},
        tagged("3.0", 7) | {"bot_id": "B0OKRBOT", "metadata": {"event_type": "other"}},
        tagged("2.0", 7),  # no bot_id: not the bot's
        tagged("1.0", 7) | {"bot_id": "B0OKRBOT"},
    ]
    assert prompt_in(history, 7) == "1.0"
    assert prompt_in(history, 9) is None
    assert prompt_in([], 7) is None
