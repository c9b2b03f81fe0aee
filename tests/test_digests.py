"""Managers' digests end to end: rounds and updates in the database, the digest in the managers'
DMs and the team channel of the Slack stand-in, the chart through Slack's upload methods."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import AsyncIterator

import pytest
from sqlmodel import col, select

from bot.blocks.render import render
from bot.domain import PromptState, Role, Source
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed
from bot.services.updates import Actor, Origin, log_kpi, set_initiative_status, update_kr
from bot.standin.server import Call
from scheduler.digest_jobs import deliver_scheduled_digest, schedule_slot, send_round_digest
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    DigestSent,
    Initiative,
    KeyResult,
    Kpi,
    Membership,
    Person,
    Team,
)

NOW = dt.datetime(2026, 11, 17, 5, 0, tzinfo=dt.UTC)  # Tuesday, after Monday's round closed
WS = "T0DEMO"


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def team_id(box: Sandbox, name: str) -> int:
    async with box.database.session() as session:
        return (await session.exec(select(Team.id).where(Team.name == name))).one()


async def kr_id(box: Sandbox, number: int) -> int:
    async with box.database.session() as session:
        return (await session.exec(select(KeyResult.id).where(KeyResult.number == number))).one()


async def kpi_id(box: Sandbox, name: str) -> int:
    async with box.database.session() as session:
        return (await session.exec(select(Kpi.id).where(Kpi.name == name))).one()


async def open_round(box: Sandbox, team: int, days_ago: int, states: dict[str, str]) -> int:
    """A closed round of `team`, with one prompt per member in the given states."""
    scheduled = NOW - dt.timedelta(days=days_ago, hours=2)
    async with box.database.session() as session:
        checkin = CheckinRound(
            workspace_id=WS,
            team_id=team,
            scheduled_for=scheduled,
            closes_at=scheduled + dt.timedelta(days=1),
            closed_at=scheduled + dt.timedelta(days=1),
        )
        session.add(checkin)
        await session.flush()
        for user_id, state in states.items():
            session.add(
                CheckinPrompt(workspace_id=WS, round_id=checkin.id, user_id=user_id, state=state)
            )
    assert checkin.id is not None
    return checkin.id


def actor(user_id: str, source: Source = Source.DM) -> Actor:
    return Actor(WS, user_id, source)


def digests_to(box: Sandbox, channel: str) -> list[Call]:
    return [
        call
        for call in box.standin.calls_to("chat.postMessage")
        if call.params.get("channel") == channel and blocks_of(call)[0]["type"] == "header"
    ]


def text_of(call: Call) -> str:
    return render(blocks_of(call), {})


async def add_away_member(box: Sandbox, team: int, user_id: str, until: dt.date) -> None:
    async with box.database.session() as session:
        session.add(Membership(workspace_id=WS, team_id=team, user_id=user_id, role=Role.MEMBER))
        person = (await session.exec(select(Person).where(Person.user_id == user_id))).one()
        person.away_until = until
        session.add(person)


async def play_two_rounds(box: Sandbox) -> tuple[int, int]:
    """Customer Success: round 1 (Alice notes a blocker, Bob silent) and its digest, then round 2
    (the blocker again, KR-1 up, KR-2 down with low confidence, NPS off target, an initiative
    done, Bob silent again, Carol away)."""
    cs = await team_id(box, "Customer Success")
    first = await open_round(
        box, cs, 8, {"U0ALICE": PromptState.ANSWERED, "U0BOB": PromptState.SENT}
    )
    await update_kr(
        database=box.database,
        actor=actor("U0ALICE"),
        kr_id=await kr_id(box, 1),
        value=None,
        note="waiting on the chat vendor",
        origin=Origin(round_id=first),
        now=NOW,
    )
    await send_round_digest(box.services, box.client, first)
    await add_away_member(box, cs, "U0CAROL", dt.date(2026, 12, 1))
    second = await open_round(
        box,
        cs,
        1,
        {"U0ALICE": PromptState.ANSWERED, "U0BOB": PromptState.SENT, "U0CAROL": PromptState.AWAY},
    )
    await log_kpi(
        database=box.database,
        actor=actor("U0ALICE"),
        kpi_id=await kpi_id(box, "Net promoter score"),
        value=69,
        note="survey sample was small",
        origin=Origin(round_id=second),
        now=NOW,
    )
    await update_kr(
        database=box.database,
        actor=actor("U0ALICE"),
        kr_id=await kr_id(box, 1),
        value=78,
        note="Still waiting on the chat vendor",
        origin=Origin(round_id=second),
        now=NOW,
    )
    await update_kr(
        database=box.database,
        actor=actor("U0MANAGER", Source.COMMAND),
        kr_id=await kr_id(box, 2),
        value=5.8,
        confidence=2,
        now=NOW,
    )
    async with box.database.session() as session:
        query = select(Initiative.id).where(Initiative.title == "Add chat to the mobile app")
        chat = (await session.exec(query)).one()
    await set_initiative_status(
        database=box.database,
        actor=actor("U0MANAGER", Source.COMMAND),
        initiative_id=chat,
        status="done",
    )
    return first, second


async def test_digest_after_a_round_says_what_changed(box: Sandbox) -> None:
    _, second = await play_two_rounds(box)
    (earlier,) = digests_to(box, "D0MANAGER")
    assert "changes in the last 7 days" in text_of(earlier)
    assert "Status changes" not in text_of(earlier)  # nothing to compare with yet

    await send_round_digest(box.services, box.client, second)
    latest = digests_to(box, "D0MANAGER")[-1]
    text = text_of(latest)
    assert "changes since the last digest" in text
    # Objective: KR-1 40% -> 80%, KR-2 40% -> 10%: 40% -> 45%.
    assert "45% Increase customer satisfaction · +5 pts" in text
    assert "KR-1 Increase NPS from 70 to 80: 🟡 at risk → 🟢 on track" in text
    assert "KR-2 Reduce average reply time from 6 h to 4 h: 🟡 at risk → 🔴 off track" in text
    assert (
        "KR-2 Reduce average reply time from 6 h to 4 h · 🔴 off track · 10% (expected 51%) · "
        "confidence 2/10 · @U0BOB" in text
    )
    assert "KR-1 @U0ALICE: _Still waiting on the chat vendor_ · 2 rounds in a row" in text
    assert "Net promoter score @U0ALICE: _survey sample was small_ · new this round" in text
    assert "Check-ins: 1 of 2 answered" in text
    assert "Checked in: @U0ALICE" in text
    assert "No reply: @U0BOB (2 rounds)" in text
    assert "Away: @U0CAROL (until Dec 1, 2026)" in text
    assert "Net promoter score 🔴 off target · 69 points · target 75 points" in text
    assert "Add chat to the mobile app (KR-1): in progress → done" in text


async def test_digest_links_to_okrbots_app_home(box: Sandbox) -> None:
    _, second = await play_two_rounds(box)
    await send_round_digest(box.services, box.client, second)
    home = "slack://app?team=T0DEMO&id=A0OKRBOT&tab=home"
    for channel in ("D0MANAGER", "C0CS"):
        last = blocks_of(digests_to(box, channel)[-1])[-1]
        assert last["elements"][0]["text"] == (
            f"<{home}|Open okrbot's Home tab> for every KR, its owner and its history."
        )
    asked = box.standin.calls_to("bots.info")
    assert asked and {call.params["bot"] for call in asked} == {"B0OKRBOT"}  # auth.test's bot_id


async def test_channel_report_leaves_out_who_replied(box: Sandbox) -> None:
    _, second = await play_two_rounds(box)
    await send_round_digest(box.services, box.client, second)
    report = text_of(digests_to(box, "C0CS")[-1])
    assert "+5 pts" in report and "2 rounds in a row" in report
    assert "Check-ins" not in report and "No reply" not in report and "Away" not in report


def shared_files(box: Sandbox) -> list[tuple[list[str], str]]:
    """Each completed upload's channels and title, as Slack answered them."""
    completed = box.standin.calls_to("files.completeUploadExternal")
    return [(sorted(f["channels"]), f["title"]) for c in completed for f in c.response["files"]]


async def test_one_chart_upload_is_shared_to_the_managers_dm_and_the_channel(
    box: Sandbox,
) -> None:
    _, second = await play_two_rounds(box)
    await send_round_digest(box.services, box.client, second)
    chart = (["C0CS", "D0MANAGER"], "OKR chart · Customer Success")
    assert shared_files(box) == [chart, chart]  # one upload per digest, not per recipient
    assert len(box.standin.calls_to("upload_url")) == 2
    for data in box.standin.uploaded_files.values():
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    shared = box.standin.calls_to("files.completeUploadExternal")[-1]
    assert all(digests_to(box, c)[-1].at < shared.at for c in ("D0MANAGER", "C0CS"))


async def test_a_chart_in_each_language_goes_to_its_readers(db_url: str) -> None:
    friday = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    async with sandbox(db_url, clock=lambda: friday, migrate=False) as box:
        await load_seed(box)
        report = await deliver_scheduled_digest(
            box.services, box.client, await team_id(box, "Support")
        )
        assert report is not None and len(report.charts) == 2
        assert sorted(shared_files(box)) == [
            (["C0SUPPORT"], "OKR chart · Support"),
            (["D0RINA"], "Grafik OKR · Support"),  # Rina reads Indonesian
        ]


async def test_running_the_round_digest_again_sends_nothing_twice(box: Sandbox) -> None:
    _, second = await play_two_rounds(box)
    await send_round_digest(box.services, box.client, second)
    posted = len(box.standin.calls_to("chat.postMessage"))
    await send_round_digest(box.services, box.client, second)
    await send_round_digest(box.services, box.client, second)
    assert len(box.standin.calls_to("chat.postMessage")) == posted
    async with box.database.session() as session:
        claims = (
            await session.exec(select(DigestSent).where(DigestSent.period == f"round:{second}"))
        ).all()
    assert sorted(c.manager_id for c in claims) == ["C0CS", "U0MANAGER"]
    assert all(c.sent_at is not None and c.message_ts for c in claims)
    assert str(await kr_id(box, 1)) in claims[0].snapshot["krs"]


async def test_scheduled_digest_is_claimed_under_its_slot_and_speaks_the_managers_language(
    db_url: str,
) -> None:
    friday = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)  # 16:30 in Jakarta
    async with sandbox(db_url, clock=lambda: friday, migrate=False) as box:
        await load_seed(box)
        support = await team_id(box, "Support")
        report = await deliver_scheduled_digest(box.services, box.client, support)
        again = await deliver_scheduled_digest(box.services, box.client, support)
        assert report is not None and again is not None
        assert report.period == again.period == "schedule:2026-11-20T16:00:00+07:00"
        assert (report.sent, again.sent, again.already) == (
            ["U0RINA", "C0SUPPORT"],
            [],
            ["U0RINA", "C0SUPPORT"],
        )
        text = text_of(digests_to(box, "D0RINA")[0])  # Rina reads Indonesian
        assert "1.180 tickets" in text and "target 1.000 tickets" in text


async def test_digest_goes_out_without_a_chart_that_cannot_be_drawn(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> bytes:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr("bot.notify.digest_chart", broken)
    cs = await team_id(box, "Customer Success")
    report = await deliver_scheduled_digest(box.services, box.client, cs)
    assert report is not None and report.sent == ["U0MANAGER", "C0CS"] and not report.charts
    assert box.standin.calls_to("files.getUploadURLExternal") == []
    assert "could not be drawn" in caplog.text and "no fonts today" in caplog.text


async def test_digest_goes_out_when_the_chart_upload_fails(
    box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    box.standin.fail("files.completeUploadExternal", error="internal_error")
    cs = await team_id(box, "Customer Success")
    with caplog.at_level(logging.ERROR, logger="okrbot.notify"):
        report = await deliver_scheduled_digest(box.services, box.client, cs)
    assert report is not None and report.sent == ["U0MANAGER", "C0CS"] and not report.charts
    assert len(digests_to(box, "D0MANAGER")) == 1
    assert "was not uploaded" in caplog.text


async def test_a_refused_digest_is_released_and_sent_by_the_next_run(
    box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    box.standin.fail("conversations.open", error="user_not_found")
    cs = await team_id(box, "Customer Success")
    with caplog.at_level(logging.ERROR, logger="okrbot.notify"):
        first = await deliver_scheduled_digest(box.services, box.client, cs)
    assert first is not None and (first.failed, first.sent) == (["U0MANAGER"], ["C0CS"])
    second = await deliver_scheduled_digest(box.services, box.client, cs)
    assert second is not None and (second.sent, second.already) == (["U0MANAGER"], ["C0CS"])
    (retried,) = digests_to(box, "D0MANAGER")
    # The channel's digest of the same period is no "last digest" to compare with.
    assert "changes in the last 7 days" in text_of(retried)
    async with box.database.session() as session:
        claims = (await session.exec(select(DigestSent).order_by(col(DigestSent.id)))).all()
    assert [c.manager_id for c in claims] == ["C0CS", "U0MANAGER"]


def test_a_late_run_claims_the_slot_it_was_for() -> None:
    jakarta = zoneinfo.ZoneInfo("Asia/Jakarta")
    on_time = dt.datetime(2026, 11, 20, 9, 0, 3, tzinfo=dt.UTC)  # Friday 16:00:03 in Jakarta
    slot = dt.datetime(2026, 11, 20, 16, 0, tzinfo=jakarta)
    assert schedule_slot("0 16 * * fri", jakarta, on_time) == slot
    assert schedule_slot("0 16 * * fri", jakarta, on_time + dt.timedelta(hours=5)) == slot
    assert schedule_slot("0 16 * * fri", jakarta, on_time + dt.timedelta(hours=7)) is None
    assert schedule_slot("0 16 * * fri", jakarta, on_time - dt.timedelta(minutes=1)) is None
