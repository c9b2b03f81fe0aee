"""The app's HTTP edge, driven with signed requests; Slack is the local stand-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed

NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


def text_of(call) -> str:
    parts = [call.params.get("text") or ""]
    for block in blocks_of(call):
        for key in ("text",):
            if isinstance(block.get(key), dict):
                parts.append(block[key]["text"])
        for element in block.get("elements", []):
            if isinstance(element, dict) and "text" in element:
                text = element["text"]
                parts.append(text["text"] if isinstance(text, dict) else text)
    return "\n".join(parts)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_url_verification_answers_the_challenge(box: Sandbox) -> None:
    answer = await box.sender.url_verification("challenge-123")
    assert answer.status == 200
    assert "challenge-123" in answer.body


async def test_bad_or_stale_signature_gets_401(box: Sandbox) -> None:
    bad = await box.sender.tampered(bad_signature=True).url_verification("x")
    stale = await box.sender.tampered(stale=True).url_verification("x")
    assert (bad.status, stale.status) == (401, 401)
    assert box.standin.calls_to("response_url") == []


async def test_healthz_and_metrics(box: Sandbox) -> None:
    await box.command("/okr", "help", user_id="U0ALICE")
    await box.command("/okr", "help", user_id="U0ALICE")
    status, body = await get(box.url + "/healthz")
    assert status == 200 and '"ok": true' in body
    status, body = await get(box.url + "/metrics")
    assert status == 200
    # Each request counted once, in its counter and in its latency histogram.
    assert 'okrbot_slack_requests_total{kind="command",status="200"} 2.0' in body
    assert 'okrbot_slack_request_seconds_count{kind="command"} 2.0' in body
    assert 'okrbot_db_waiting{kind="write"} 0.0' in body  # nothing queued for the database


async def test_healthz_fails_when_the_database_is_gone(box: Sandbox) -> None:
    await box.database.dispose()
    box.services.database = type(box.database).connect("postgresql://nobody@127.0.0.1:1/none")
    status, body = await get(box.url + "/healthz")
    assert status == 503 and '"ok": false' in body


async def test_okr_help_lists_commands(box: Sandbox) -> None:
    call = await box.command("/okr", "", user_id="U0ALICE")
    text = text_of(call)
    assert "/okr status" in text and "/kpi log" in text
    assert call.params.get("response_type") == "ephemeral"


async def test_unknown_word_gets_help_naming_it(box: Sandbox) -> None:
    call = await box.command("/okr", "frobnicate now", user_id="U0ALICE")
    assert "frobnicate" in text_of(call) and "/okr status" in text_of(call)


async def test_help_is_in_the_users_language(box: Sandbox) -> None:
    call = await box.command("/okr", "help", user_id="U0BOB")  # Slack locale id-ID
    assert "kunci" in text_of(call).lower()


async def test_status_in_team_channel_shows_progress(box: Sandbox) -> None:
    call = await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    text = text_of(call)
    assert "Customer Success" in text and "Sales ·" not in text
    assert "`KR-1` Increase NPS from 70 to 80" in text
    assert "40%" in text and "74 points / 80 points" in text
    # Decreasing KR: 6 h -> 4 h, now 5.2 h: (5.2 - 6) / (4 - 6) = 40%.
    assert "`KR-2` Reduce average reply time" in text
    assert "`▓▓▓▓░░░░░░` 40% · 5.2 h / 4 h" in text
    buttons = [b for b in blocks_of(call) if b["type"] == "actions"]
    assert buttons and buttons[0]["elements"][0]["action_id"] == "okr_share_status"


async def test_status_names_a_team(box: Sandbox) -> None:
    call = await box.command("/okr", "status sales", user_id="U0ALICE", channel_id="C0GENERAL")
    text = text_of(call)
    assert "Sales · 2026-Q4" in text and "Customer Success" not in text


async def test_status_without_team_uses_the_callers_teams(box: Sandbox) -> None:
    call = await box.command("/okr", "status", user_id="U0DEWI", channel_id="C0GENERAL")
    assert "Sales · 2026-Q4" in text_of(call)


async def test_status_in_indonesian_formats_numbers(box: Sandbox) -> None:
    call = await box.command("/okr", "status", user_id="U0BOB", channel_id="C0CS")
    assert "5,2 h / 4 h" in text_of(call)


async def test_share_posts_the_summary_in_channel(box: Sandbox) -> None:
    call = await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    button = next(b for b in blocks_of(call) if b["type"] == "actions")["elements"][0]
    response_url = box.standin.response_url()
    answer = await box.sender.block_action(
        button["action_id"],
        button["value"],
        user_id="U0ALICE",
        channel_id="C0CS",
        response_url=response_url,
    )
    assert answer.status == 200
    assert call.method == "ack"  # the summary itself came back in the acknowledgement
    (shared,) = await box.standin.wait_for("response_url")
    assert shared.params["response_type"] == "in_channel"
    assert "Increase NPS" in text_of(shared)
    assert not [b for b in blocks_of(shared) if b["type"] == "actions"]


async def test_app_home_shows_the_users_teams(box: Sandbox) -> None:
    answer = await box.sender.app_home_opened("U0ALICE")
    assert answer.status == 200
    (call,) = await box.standin.wait_for("views.publish")
    assert call.params["user_id"] == "U0ALICE"
    assert "Increase NPS" in str(blocks_of(call))


async def test_other_bots_messages_are_ignored(box: Sandbox) -> None:
    answer = await box.sender.event(
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B999",
            "text": "hi",
            "channel": "D0X",
            "channel_type": "im",
            "ts": "1700000000.000100",
        }
    )
    assert answer.status == 200
    # A person's DM afterwards is answered; by then the bot's message has long been handled.
    await box.sender.message_im("U0ALICE", "hello", channel="D0ALICE", ts="1700000000.000200")
    (reply,) = await box.standin.wait_for("chat.postMessage")
    await box.sender.url_verification("flush")
    assert reply.params["thread_ts"] == "1700000000.000200"
    assert len(box.standin.calls_to("chat.postMessage")) == 1


async def test_hostile_title_is_escaped(box: Sandbox) -> None:
    from bot.seed import seed_okrs

    await load_seed(box, seed_okrs().replace("Increase NPS from 70 to 80", "<!channel> NPS & <b>"))
    call = await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    text = text_of(call)
    assert "&lt;!channel&gt; NPS &amp; &lt;b&gt;" in text
    assert "<!channel>" not in text
    assert "<@U0ALICE>" in text


async def test_a_dead_database_is_told_as_such(box: Sandbox) -> None:
    await box.database.dispose()
    box.services.database = type(box.database).connect("postgresql://nobody@127.0.0.1:1/none")
    call = await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    assert "I can't reach my database just now, so nothing was saved" in text_of(call)
    assert call.params.get("response_type") == "ephemeral"


async def test_unexpected_error_is_told_to_the_user(box: Sandbox) -> None:
    box.standin.fail("views.open", error="invalid_trigger_id")
    call = await box.command("/okr", "add", user_id="U0ALICE", channel_id="C0CS")
    assert "Something went wrong on my side" in text_of(call)
    assert call.params.get("response_type") == "ephemeral"


async def test_rate_limited_and_failing_web_api_calls_are_retried(box: Sandbox) -> None:
    box.standin.fail("views.publish", status=429, retry_after=1)
    box.standin.fail("views.publish", status=500)
    await box.sender.app_home_opened("U0ALICE")
    calls = await box.standin.wait_for("views.publish", count=3, timeout=15)
    assert [call.status for call in calls] == [429, 500, 200]


async def test_a_refused_answer_is_logged_not_lost_silently(
    box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    status = await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    button = next(b for b in blocks_of(status) if b["type"] == "actions")["elements"][0]
    expired = box.standin.base_url + "response/expired-token"
    answer = await box.sender.block_action(
        button["action_id"], button["value"], user_id="U0ALICE", response_url=expired
    )
    assert answer.status == 200
    (call,) = await box.standin.wait_for("response_url")
    assert call.status == 404
    await box.services.drain()
    assert any("response_url refused the answer: 404" in r.getMessage() for r in caplog.records)
