"""The retrospective digest of a closed cycle (SPEC §8, issue #9 item 7) through the real edges
on both databases: `okrbot cycle close` and a manager's `/okr close` send each team's managers
(by DM, in their language) and its channel the final progress and scores (suggested ones
marked), the retrospective lines and what carried over, with the chart uploaded once per
language; closing twice sends nothing twice, a Slack error on one recipient loses none of the
others, and what a close owed goes out later (`okrbot run`'s job) when it could not at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlmodel import select

from bot.blocks import ids
from bot.notify import RETRO_EVENT
from bot.sandbox import BOT_TOKEN, Sandbox
from bot.services.closing import close_cycle
from bot.standin.server import Call
from scheduler.digest_jobs import send_retrospectives
from storage.models import RetroDelivery, Team
from tests.test_app_http import text_of
from tests.test_cli import okrbot
from tests.test_close_modal import opened_view, ticked
from tests.test_closing import NOW, WS, box, ended_q4

__all__ = ["box"]  # the sandbox fixture: the seed, 2027-Q1 to carry into, Dec 28 2026

# Teams with objectives in 2026-Q4 and whom their retrospective goes to. Support has none.
RECIPIENTS = {
    ("Customer Success", "D0MANAGER"),
    ("Customer Success", "C0CS"),
    ("Sales", "D0MANAGER"),
    ("Sales", "C0SALES"),
    ("Marketing", "D0RINA"),  # Rina reads Slack in Bahasa Indonesia
    ("Acme", "D0MANAGER"),
}


def retros(box: Sandbox) -> dict[tuple[str, str], Call]:
    """Each retrospective posted, by (team, channel); a repeat would fail the test."""
    found: dict[tuple[str, str], Call] = {}
    for call in box.standin.calls_to("chat.postMessage"):
        header = next((b for b in call.params.get("blocks") or [] if b["type"] == "header"), None)
        title = header["text"]["text"] if header else ""
        if call.response.get("ok") and title.startswith(("Retrospective · ", "Retrospektif · ")):
            key = (title.split(" · ")[1], str(call.params["channel"]))
            assert key not in found, f"sent twice: {key}"
            found[key] = call
    return found


async def all_sent(box: Sandbox) -> dict[tuple[str, str], Call]:
    await box.standin.wait_for(
        "chat.postMessage",
        count=len(RECIPIENTS),
        where=lambda c: "Retrospe" in str(c.params.get("text")),
        timeout=20,
    )
    return retros(box)


def assert_content(sent: dict[tuple[str, str], Call], carried: dict[str, str]) -> None:
    """What the quarter's end (`ended_q4`) says, in English and in Bahasa Indonesia."""
    cs = text_of(sent[("Customer Success", "D0MANAGER")])
    assert "Retrospective of 2026-Q4 · Customer Success: 2 key results scored" in cs
    assert "*Increase customer satisfaction* · `▓▓▓▓▓░░░░░` 50%" in cs
    assert "score 0.5" in cs  # the objective: its KRs' scores rolled up
    assert "`KR-1` Increase NPS from 70 to 80 · 60%" in cs
    assert "score 0.6 _(suggested)_" in cs and "score 0.4 _(suggested)_" in cs
    assert text_of(sent[("Customer Success", "C0CS")]) == cs  # the channel reads the same
    sales = text_of(sent[("Sales", "D0MANAGER")])
    # Dewi scored KR-3 herself: no "suggested", and her line is the retrospective.
    assert "Grow customer lifetime value from $800 to $1,200 · 38%" in sales
    assert "score 0.4 · " in sales or sales.count("score 0.4") == 2
    assert "*Looking back*\n`KR-3` <@U0DEWI>: _the upsell launched late_" in sales
    for old, new in carried.items():
        team = "Customer Success" if old in {"KR-1", "KR-2"} else "Sales"
        text = text_of(sent[(team, "D0MANAGER")])
        assert f"carried over as `{new}`" in text and f"`{old}` → `{new}`" in text
        assert "*Carried into 2027-Q1*" in text
    marketing = text_of(sent[("Marketing", "D0RINA")])
    assert "Retrospektif 2026-Q4 · Marketing" in marketing
    assert "nilai 1 _(saran)_" in marketing  # KR-5 passed its target: suggested 1, not carried
    assert "dilanjutkan sebagai" not in marketing
    acme = text_of(sent[("Acme", "D0MANAGER")])
    assert "*Grow a healthy, loved business*" in acme and "No key results of its own." in acme


def assert_charts(box: Sandbox) -> None:
    """One chart per team and language, shared to every DM and channel that got it in it."""
    completed = box.standin.calls_to("files.completeUploadExternal")
    shared = sorted(
        (sorted(f["channels"]), f["title"])
        for call in completed
        for f in call.response["files"]
        if "2026-Q4" in f["title"]
    )
    assert shared == [
        (["C0CS", "D0MANAGER"], "Retrospective chart · Customer Success · 2026-Q4"),
        (["C0SALES", "D0MANAGER"], "Retrospective chart · Sales · 2026-Q4"),
        (["D0MANAGER"], "Retrospective chart · Acme · 2026-Q4"),
        (["D0RINA"], "Grafik retrospektif · Marketing · 2026-Q4"),
    ]
    assert all(data.startswith(b"\x89PNG") for data in box.standin.uploaded_files.values())


async def deliveries(box: Sandbox) -> list[RetroDelivery]:
    async with box.database.read() as session:
        return list((await session.exec(select(RetroDelivery))).all())


async def test_the_modal_close_sends_each_team_its_retrospective(box: Sandbox) -> None:
    await ended_q4(box)
    view = await opened_view(box, "U0MANAGER")
    await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        ticked(view, {"KR-1", "KR-3"}),
        user_id="U0MANAGER",
        private_metadata=view["private_metadata"],
    )
    sent = await all_sent(box)
    assert set(sent) == RECIPIENTS
    assert_content(sent, {"KR-1": "KR-6", "KR-3": "KR-7"})
    cs = text_of(sent[("Customer Success", "D0MANAGER")])
    assert "`KR-2` Reduce average reply time from 6 h to 4 h · 40%" in cs
    assert "carried over as" in cs and "`KR-2` →" not in cs  # KR-2 was not ticked
    await box.standin.wait_for("files.completeUploadExternal", count=4, timeout=20)
    assert_charts(box)
    assert {row.state for row in await deliveries(box)} == {"sent"}

    # The same modal again (a double click, another manager), and the job: nothing twice.
    await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        ticked(view, {"KR-2"}),
        user_id="U0MANAGER",
        private_metadata=view["private_metadata"],
    )
    await box.standin.wait_for(
        "chat.postMessage", where=lambda c: "closed already" in str(c.params.get("text"))
    )
    report = await send_retrospectives(box.services, box.client)
    assert (report.sent, report.failed) == ([], [])
    assert set(retros(box)) == RECIPIENTS  # `retros` fails on any repeat
    assert len(box.standin.calls_to("files.completeUploadExternal")) == 4


async def test_the_command_line_close_sends_them_and_a_second_close_sends_nothing(
    box: Sandbox, db_url: str
) -> None:
    await ended_q4(box)
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": box.standin.api_url,
    }
    args = ("cycle", "close", "2026-Q4", "--workspace", WS)
    # In a thread: the stand-in answering the command lives on this test's event loop.
    closed = await asyncio.to_thread(okrbot, *args, env=env)
    assert closed.returncode == 0, closed.stderr
    said = closed.stdout.splitlines()
    assert said[0].startswith("okrbot: cycle 2026-Q4 closed: 5 key results frozen")
    assert said[1].startswith("okrbot: retrospective digests sent: ")
    assert "Customer Success → C0CS" in said[1] and "Marketing → U0RINA" in said[1]
    sent = retros(box)
    assert set(sent) == RECIPIENTS
    assert_content(sent, {"KR-1": "KR-6", "KR-2": "KR-7", "KR-3": "KR-8", "KR-4": "KR-9"})
    assert_charts(box)

    again = await asyncio.to_thread(okrbot, *args, env=env)
    assert (again.returncode, again.stderr) == (2, "okrbot: Cycle 2026-Q4 is closed already.\n")
    await send_retrospectives(box.services, box.client)
    assert set(retros(box)) == RECIPIENTS
    assert len(box.standin.calls_to("files.completeUploadExternal")) == 4


async def test_a_close_without_a_token_leaves_them_owed_for_okrbot_run(
    box: Sandbox, db_url: str
) -> None:
    closed = await asyncio.to_thread(
        okrbot, "cycle", "close", "2026-Q4", "--workspace", WS, env={"DATABASE_URL": db_url}
    )
    assert closed.returncode == 0, closed.stderr
    assert "the retrospective digests wait for `okrbot run`" in closed.stderr
    assert retros(box) == {}
    assert {row.state for row in await deliveries(box)} == {"owed"}
    await send_retrospectives(box.services, box.client)  # what `okrbot run` does every minute
    assert set(retros(box)) == RECIPIENTS


async def test_a_slack_error_on_one_recipient_loses_none_of_the_others(box: Sandbox) -> None:
    # The close commits (owing 6 digests) and the process stops before sending any.
    await close_cycle(database=box.database, workspace_id=WS, name="2026-Q4", carry="none")
    box.standin.fail("chat.postMessage", error="ratelimited")  # a passing error, once
    first = await send_retrospectives(box.services, box.client)
    assert len(first.failed) == 1 and len(first.sent) == len(RECIPIENTS) - 1
    assert len(retros(box)) == len(RECIPIENTS) - 1
    states = sorted(row.state for row in await deliveries(box))
    assert states == ["owed"] + ["sent"] * 5  # given back, for the next run

    second = await send_retrospectives(box.services, box.client)
    assert (second.sent, second.failed) == (first.failed, [])
    assert set(retros(box)) == RECIPIENTS  # the last one, and nobody twice
    assert (await send_retrospectives(box.services, box.client)).sent == []


async def test_a_recipient_slack_refuses_for_good_is_not_retried(box: Sandbox) -> None:
    await close_cycle(database=box.database, workspace_id=WS, name="2026-Q4", carry="none")
    box.standin.fail("chat.postMessage", error="channel_not_found")
    first = await send_retrospectives(box.services, box.client)
    assert len(first.failed) == 1 and len(first.sent) == len(RECIPIENTS) - 1
    rows = await deliveries(box)
    failed = [row for row in rows if row.state == "failed"]
    assert len(failed) == 1 and failed[0].error == "channel_not_found"
    assert (await send_retrospectives(box.services, box.client)).sent == []


async def test_a_dead_sender_s_dm_is_taken_over_and_never_sent_twice(box: Sandbox) -> None:
    """A sender killed after claiming rows: past the lease, a DM whose digest had reached
    Slack is found by its metadata and recorded, one that had not is sent; a channel's claim
    is left alone (okrbot cannot read a channel's history to know)."""
    await close_cycle(database=box.database, workspace_id=WS, name="2026-Q4", carry="none")
    rows = {(row.team_id, row.recipient): row for row in await deliveries(box)}
    teams = {name: team_id for name, team_id in await team_ids(box)}
    rina = rows[(teams["Marketing"], "U0RINA")]
    maya = rows[(teams["Customer Success"], "U0MANAGER")]
    channel = rows[(teams["Customer Success"], "C0CS")]
    # Claimed well before the lease ran out, and before Slack's timestamps of what followed.
    claimed = min(dt.datetime.now(dt.UTC), NOW) - dt.timedelta(minutes=10)
    async with box.database.session() as session:
        for row in (rina, maya, channel):
            row.state, row.claimed_at = "claimed", claimed
            session.add(row)
    metadata = {"event_type": RETRO_EVENT, "event_payload": {"delivery": rina.id}}
    posted = await box.client.chat_postMessage(
        channel="U0RINA", text="Retrospektif 2026-Q4 · Marketing", metadata=metadata
    )

    report = await send_retrospectives(box.services, box.client)
    assert ("Customer Success", "U0MANAGER") in report.sent
    assert ("Marketing", "U0RINA") not in report.sent
    to_rina = [
        c
        for c in box.standin.calls_to("chat.postMessage")
        if c.params["channel"] in {"U0RINA", "D0RINA"}
    ]
    assert len(to_rina) == 1  # the dead sender's, found, not posted again
    states = {row.id: (row.state, row.message_ts) for row in await deliveries(box)}
    assert states[rina.id] == ("sent", posted["ts"])
    assert states[maya.id][0] == "sent" and states[channel.id] == ("claimed", None)
    assert ("Customer Success", "C0CS") not in retros(box)
    assert (await send_retrospectives(box.services, box.client)).sent == []


async def team_ids(box: Sandbox) -> list[tuple[str, int]]:
    async with box.database.read() as session:
        return [(t.name, t.id or 0) for t in (await session.exec(select(Team))).all()]
