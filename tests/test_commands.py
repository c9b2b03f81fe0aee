"""Every `/okr` and `/kpi` subcommand, modals and App Home, through signed HTTP requests
against the real app and the Slack stand-in, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bot.homefeed import DELAY
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed
from storage.models import KeyResult, Kpi, KrUpdate, Objective
from tests.support.modals import fill
from tests.test_app_http import text_of

NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def kr(box: Sandbox, number: int) -> KeyResult:
    async with box.database.session() as session:
        return (await session.exec(select(KeyResult).where(KeyResult.number == number))).one()


async def open_modal(box: Sandbox, command: str, user: str) -> dict:
    before = len(box.standin.calls_to("views.open"))
    answer = await box.sender.slash_command(
        command, "add", user_id=user, response_url=box.standin.response_url()
    )
    assert answer.status == 200
    call = (await box.standin.wait_for("views.open", count=before + 1))[-1]
    assert call.status == 200, call.response
    return call.params["view"]


async def test_mine_lists_the_callers_krs_and_initiatives(box: Sandbox) -> None:
    text = text_of(await box.command("/okr", "mine", user_id="U0BOB"))
    assert "`KR-2` Reduce average reply time" in text and "`KR-1`" not in text
    assert "Add chat to the mobile app (KR-1) — sedang berjalan" in text  # Bob reads Indonesian
    assert "`/okr update KR-2 5`" in text  # his own KR, a step from 5,2 h toward 4 h


async def test_help_examples_fit_the_reader(box: Sandbox) -> None:
    bob = text_of(await box.command("/okr", "help", user_id="U0BOB"))
    assert "`/okr update KR-2 5 [note]`" in bob and "`/okr history KR-2`" in bob
    alice = text_of(await box.command("/kpi", "frob", user_id="U0ALICE"))
    assert "`/okr update KR-1 75 [note]`" in alice and "`frob`" in alice


async def test_owner_updates_a_kr_answered_in_the_ack(box: Sandbox) -> None:
    call = await box.command("/okr", "update KR-1 76 good week", user_id="U0ALICE")
    assert call.method == "ack"  # ready within the budget: no response_url round trip
    text = text_of(call)
    assert "74 points → 76 points" in text and "60%" in text and "on track" in text
    assert (await kr(box, 1)).current == 76
    assert box.standin.calls_to("response_url") == []


def home_of(user: str):
    return lambda call: call.params.get("user_id") == user


async def test_home_is_refreshed_once_for_a_run_of_changes_by_who_opened_it(box: Sandbox) -> None:
    await box.sender.app_home_opened("U0ALICE")
    await box.standin.wait_for("views.publish", where=home_of("U0ALICE"))
    for value in (75, 76, 77):
        await box.command("/okr", f"update KR-1 {value}", user_id="U0ALICE")
    calls = await box.standin.wait_for(
        "views.publish", count=2, where=home_of("U0ALICE"), timeout=15
    )
    assert "77 points / 80 points" in str(blocks_of(calls[-1]))
    await asyncio.sleep(DELAY + 0.5)  # nothing more is coming: the three changes made one
    assert len(box.standin.calls_to("views.publish")) == 2


async def test_no_home_publish_for_who_never_opened_it(box: Sandbox) -> None:
    await box.command("/okr", "update reply time 4.5h", user_id="U0BOB")
    await asyncio.sleep(DELAY + 1.0)
    assert box.standin.calls_to("views.publish") == []


async def test_update_by_alias_of_a_decreasing_kr(box: Sandbox) -> None:
    text = text_of(
        await box.command("/okr", "update reply time 4.5h vendor fixed", user_id="U0BOB")
    )
    assert "5,2 h → 4,5 h" in text and "75%" in text
    async with box.database.session() as session:
        row = (await session.exec(select(KrUpdate))).one()
    assert (row.new_value, row.note, row.source) == (4.5, "vendor fixed", "command")


async def test_a_stranger_is_told_why_and_nothing_is_stored(box: Sandbox) -> None:
    call = await box.command("/okr", "update KR-1 99", user_id="U0GITA")
    assert "Only the owner of KR-1, the owner of its objective and the team's managers" in text_of(
        call
    )
    assert call.params["response_type"] == "ephemeral"
    assert (await kr(box, 1)).current == 74


async def test_manager_may_update(box: Sandbox) -> None:
    await box.command("/okr", "update KR-4 10", user_id="U0MANAGER")
    assert (await kr(box, 4)).current == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("update KR-1 lots", "I could not read a value in `lots`"),
        ("update KR-1 100000000000000000000000000", "I could not read a value in `1000"),
        ("update KR-99 5", "I could not find KR-99"),
        ("update", "Write it as `/okr update KR-7 74 [note]`"),
        ("update conversion 5", "could mean"),
        ("history", "Which key result?"),
    ],
)
async def test_bad_update_words_get_a_clear_answer(box: Sandbox, text: str, expected: str) -> None:
    call = await box.command("/okr", text, user_id="U0MANAGER")
    assert expected in text_of(call)


async def test_history_shows_who_when_and_from_where(box: Sandbox) -> None:
    await box.command("/okr", "update KR-1 75", user_id="U0ALICE")
    await box.command("/okr", "update nps 77 vendor shipped", user_id="U0MANAGER")
    text = text_of(await box.command("/okr", "history KR-1", user_id="U0ALICE"))
    newest, older = text.index("<@U0MANAGER>"), text.index("<@U0ALICE>")
    assert newest < older
    assert "75 points → 77 points" in text and "vendor shipped" in text and "/okr update" in text


async def test_kpi_status_shows_value_target_status_and_trend(box: Sandbox) -> None:
    text = text_of(await box.command("/kpi", "status", user_id="U0CAROL", channel_id="C0SUPPORT"))
    assert "*Average reply time* 5.2 h (2026-10) · target 4 h · :large_yellow_circle: warn" in text
    assert ("improving" in text and "▁" in text) or "█" in text


async def test_logging_a_kpi_moves_the_linked_kr(box: Sandbox) -> None:
    text = text_of(await box.command("/kpi", "log reply time 4.8 2026-11", user_id="U0CAROL"))
    assert "Average reply time" in text and "moved with KPI" in text
    assert (await kr(box, 2)).current == 4.8


async def test_kpi_log_in_indonesian_reads_the_three_digit_rule(box: Sandbox) -> None:
    text = text_of(await box.command("/kpi", "log clv 1.050", user_id="U0DEWI"))
    assert "$950 → $1.050" in text
    assert (await kr(box, 3)).current == 1050


async def test_kpi_log_by_a_stranger_is_refused(box: Sandbox) -> None:
    text = text_of(await box.command("/kpi", "log tickets 900", user_id="U0GITA"))
    assert "Only the owner of Tickets per month and the team's managers can log it." in text


async def test_okr_add_modal_validates_then_creates(box: Sandbox) -> None:
    view = await open_modal(box, "/okr", "U0ALICE")
    bad = fill(
        view,
        {
            "objective_title": "Delight users",
            "kr1_title": "Raise CSAT",
            "kr1_start": "4",
            "kr1_target": "4",
            "kr2_title": "Cut churn",
            "kr2_start": "five",
            "kr2_target": "3",
        },
    )
    answer = await box.sender.view_submission(
        "okr_add", bad, user_id="U0ALICE", private_metadata=view["private_metadata"]
    )
    assert answer.json["response_action"] == "errors"
    assert set(answer.json["errors"]) == {"kr1_target", "kr2_start"}
    async with box.database.session() as session:
        assert (
            await session.exec(select(Objective).where(Objective.title == "Delight users"))
        ).first() is None
    good = fill(
        view,
        {
            "objective_title": "Delight users",
            "kr1_title": "Raise CSAT",
            "kr1_start": "4",
            "kr1_target": "4,6",
            "kr1_unit": "pts",
        },
    )
    answer = await box.sender.view_submission(
        "okr_add", good, user_id="U0ALICE", private_metadata=view["private_metadata"]
    )
    assert answer.status == 200 and not answer.body
    created = await kr(box, 6)
    assert (created.title, created.start, created.target, created.owner_id) == (
        "Raise CSAT",
        4,
        4.6,
        "U0ALICE",
    )
    (message,) = await box.standin.wait_for("chat.postMessage")
    assert "KR-6" in message.params["text"]


async def test_kpi_add_modal_checks_the_warn_side(box: Sandbox) -> None:
    view = await open_modal(box, "/kpi", "U0CAROL")
    answers = {
        "kpi_name": "First reply time",
        "kpi_target": "2",
        "kpi_warn": "1",
        "kpi_direction": "lower_is_better",
    }
    answer = await box.sender.view_submission("kpi_add", fill(view, answers), user_id="U0CAROL")
    assert list(answer.json["errors"]) == ["kpi_warn"]
    answers["kpi_warn"] = "3"
    answer = await box.sender.view_submission("kpi_add", fill(view, answers), user_id="U0CAROL")
    assert answer.status == 200
    async with box.database.session() as session:
        kpi = (await session.exec(select(Kpi).where(Kpi.name == "First reply time"))).one()
    assert (kpi.direction, kpi.target, kpi.warn, kpi.owner_id) == (
        "lower_is_better",
        2,
        3,
        "U0CAROL",
    )


async def test_home_update_button_opens_a_modal_that_records(box: Sandbox) -> None:
    await box.sender.app_home_opened("U0ALICE")
    (home,) = await box.standin.wait_for("views.publish")
    button = next(
        b["accessory"]
        for b in blocks_of(home)
        if b.get("accessory", {}).get("action_id") == "okr_home_update_kr"
    )
    await box.sender.block_action(
        button["action_id"], button["value"], user_id="U0ALICE", view=home.params["view"]
    )
    (opened,) = await box.standin.wait_for("views.open")
    view = opened.params["view"]
    values = fill(view, {"kr_value": "78", "kr_confidence": "7", "kr_note": "survey closed"})
    answer = await box.sender.view_submission(
        "okr_update", values, user_id="U0ALICE", private_metadata=view["private_metadata"]
    )
    assert answer.status == 200
    nps = await kr(box, 1)
    assert (nps.current, nps.confidence) == (78, 7)
    text = text_of(await box.command("/okr", "history KR-1", user_id="U0ALICE"))
    assert "App Home" in text and "confidence 7/10" in text
    assert json.loads(view["private_metadata"])["kr_id"] == nps.id


async def test_kpi_log_crossing_a_threshold_alerts_channel_and_managers(box: Sandbox) -> None:
    await box.command("/kpi", "log reply time 6.5", user_id="U0CAROL")
    alerts = await box.standin.wait_for("chat.postMessage", count=2)
    assert {call.params["channel"] for call in alerts} == {
        "C0SUPPORT",
        "D0RINA",
    }  # DM via conversations.open
    assert "Average reply time" in str(alerts[0].params)
    await box.command("/kpi", "log reply time 6.6", user_id="U0CAROL")
    await box.services.drain()
    assert len(box.standin.calls_to("chat.postMessage")) == 2  # same state: no second alert
