"""`okrbot demo`: a scripted week on the seed example, then the end of the quarter, no Slack
account needed.

It starts the local Slack stand-in and the real app on loopback with an embedded SQLite file,
imports `examples/okrs.yaml`, then plays people typing in Slack through signed HTTP requests
and prints what each of them sees: a week of check-ins and digests in November, then, with the
demo's clock moved to the quarter's scoring days, the scoring DMs and replies, `/okr score`,
a manager's `/okr close` with carry-over, and the retrospective digests.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.blocks import ids
from bot.blocks.render import render
from bot.importsummary import describe_import
from bot.sandbox import TEAM_ID, Sandbox, blocks_of, sandbox
from bot.seed import load_seed, seed_people
from bot.services import checkins
from bot.services.digests import digest_teams
from bot.standin.server import Call
from scheduler import jobs as checkin_jobs
from scheduler.digest_jobs import deliver_scheduled_digest
from scheduler.scoring_jobs import send_scoring

# The demo's week starts on Monday 16 November 2026, 10:00 in Jakarta: deterministic output.
DEMO_NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)
# The quarter ends on Monday 28 December 2026, 9:00 in Jakarta: within 2026-Q4's scoring days.
QUARTER_END = dt.datetime(2026, 12, 28, 2, 0, tzinfo=dt.UTC)
CHANNELS = {"C0CS": "#customer-success", "C0SALES": "#sales", "C0SUPPORT": "#support"}


@dataclass
class DemoClock:
    """The services' clock: fixed, so the output is the same every run; the script moves it."""

    now: dt.datetime = DEMO_NOW

    def __call__(self) -> dt.datetime:
        return self.now


class Stage:
    """Prints each step of the script the way the people in it would see it."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.names = {p["id"]: p.get("real_name", p["name"]).split()[0] for p in seed_people()}

    def say(self, text: str) -> None:
        print(f"\n\033[1m▶ {text}\033[0m" if sys.stdout.isatty() else f"\n▶ {text}")

    def show(self, call: Call, audience: str) -> None:
        print(f"┌ {audience}")
        body = render(blocks_of(call), self.names) or call.params.get("text", "")
        print("\n".join("│ " + line for line in body.splitlines()))
        print("└")

    async def command(self, user_id: str, text: str, channel: str = "C0GENERAL") -> None:
        name = self.names[user_id]
        where = CHANNELS.get(channel, "#general")
        self.say(f"{name} types `{text}` in {where}")
        command, _, rest = text.partition(" ")
        call = await self.box.command(command, rest, user_id=user_id, channel_id=channel)
        visibility = "everyone" if call.params.get("response_type") == "in_channel" else "only"
        self.show(call, f"okrbot → {where} ({visibility} {name} can see this)")

    async def home(self, user_id: str) -> None:
        self.say(f"{self.names[user_id]} opens okrbot's Home tab")

        def theirs(call: Call) -> bool:
            return call.params.get("user_id") == user_id

        before = len([c for c in self.box.standin.calls_to("views.publish") if theirs(c)])
        await self.box.sender.app_home_opened(user_id)
        calls = await self.box.standin.wait_for("views.publish", count=before + 1, where=theirs)
        call = calls[-1]
        self.show(call, f"App Home of {self.names[user_id]}")


async def run_demo(db_path: Path) -> int:
    """Play the script against a fresh SQLite file at `db_path`."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in db_path.parent.glob(db_path.name + "*"):
        leftover.unlink()
    clock = DemoClock()
    async with sandbox(f"sqlite:///{db_path}", clock=clock) as box:
        stage = Stage(box)
        stage.say("Importing examples/okrs.yaml (e-mail addresses looked up in Slack)")
        report = await load_seed(box)
        print("  " + describe_import(report, "en"))
        await stage.command("U0MANAGER", "/okr help", "C0CS")
        await stage.command("U0ALICE", "/okr status", "C0CS")
        await stage.command("U0DEWI", "/okr status", "C0SALES")
        await stage.command("U0RINA", "/okr status marketing")
        await stage.command("U0MANAGER", "/okr tree")
        await stage.command("U0BOB", "/okr mine")
        await stage.command("U0CAROL", "/kpi status", "C0SUPPORT")
        await stage.command("U0CAROL", "/kpi log tickets 1,150", "C0SUPPORT")
        await stage.home("U0ALICE")
        await show_checkin_round(stage)
        await show_digests(stage, db_path.parent)
        clock.now = QUARTER_END
        await show_scoring(stage)
        await show_close(stage, db_path.parent)
        calls = len(box.standin.calls)
    print(f"\nDone: {calls} Slack API calls answered by the local stand-in; database: {db_path}")
    return 0


async def show_digests(stage: Stage, folder: Path) -> None:
    """The week ends with each manager's digest; the charts are written next to the database."""
    box = stage.box
    stage.say("The week's digests go out to the managers (and the team channels)")
    for team_id, name in await digest_teams(database=box.database, workspace_id=TEAM_ID):
        before = len(box.standin.calls)
        report = await deliver_scheduled_digest(box.services, box.client, team_id)
        for call in box.standin.calls[before:]:
            manager = box.standin.workspace.user_of_dm(call.params.get("channel", ""))
            if call.method == "chat.postMessage" and manager is not None:
                stage.show(call, f"okrbot → DM to {stage.names.get(manager.id, manager.id)}")
        if report and report.charts:
            chart = folder / f"digest-{name.lower().replace(' ', '-')}.png"
            chart.write_bytes(report.charts[0])
            print(f"  chart of {name}: {chart}")


async def show_checkin_round(stage: Stage) -> None:
    """Monday's check-in: the prompts, replies in English and in Bahasa Indonesia, okrbot's
    confirmations, and the team's status before and after."""
    box = stage.box
    await stage.command("U0MANAGER", "/okr status", "C0CS")
    stage.say("Monday 10:00 in Jakarta: the Customer Success check-in goes out by DM")
    team = await checkins.find_team(database=box.database, name="Customer Success")
    before = len(box.standin.calls)
    await checkin_jobs.checkin(box.services, box.client, team.id or 0)
    for call in box.standin.calls[before:]:
        if call.method == "chat.postMessage" and call.response.get("ok"):
            stage.show(call, f"okrbot → DM to {stage.names[call.params['channel']]}")
    await dm_reply(stage, "U0ALICE", "1: 76, conf 8 - waiting on the chat vendor")
    await dm_reply(stage, "U0BOB", "1: 4,8 jam, keyakinan 7\n2: selesai")
    await stage.command("U0MANAGER", "/okr status", "C0CS")


async def dm_reply(stage: Stage, user_id: str, text: str) -> None:
    """A member answers the prompt; okrbot confirms in the reply's thread."""
    name = stage.names[user_id]
    stage.say(f"{name} replies in the DM: " + text.replace("\n", " / "))
    sent = await stage.box.sender.message_im(user_id, text)
    ts = sent.payload["event"]["ts"]
    (call,) = await stage.box.standin.wait_for(
        "chat.postMessage", where=lambda call: call.params.get("thread_ts") == ts
    )
    stage.show(call, f"okrbot → {name}, in the reply's thread")


async def show_scoring(stage: Stage) -> None:
    """December 28: the quarter is in its scoring days. Each KR owner gets one DM; Alice
    scores in English, Bob takes the suggestion in Bahasa Indonesia, Dewi uses `/okr score`."""
    box = stage.box
    stage.say("Monday 28 December, 2026-Q4's scoring days: each KR owner gets one scoring DM")
    before = len(box.standin.calls)
    sent = await send_scoring(box.services, box.client)
    shown = ("U0ALICE", "U0BOB")
    for call in box.standin.calls[before:]:
        if call.method == "chat.postMessage" and call.params.get("channel") in shown:
            stage.show(call, f"okrbot → DM to {stage.names[call.params['channel']]}")
    print(f"  ({sent} scoring DMs in all: Dewi, Evan and Gita got theirs too)")
    await dm_reply(stage, "U0ALICE", "1: 0.6 - the chat vendor slipped a month")
    await dm_reply(stage, "U0BOB", "sesuai saran")
    await stage.command("U0DEWI", "/okr score KR-3 0.4 the upsell launched late", "C0SALES")


async def show_close(stage: Stage, folder: Path) -> None:
    """Maya closes the quarter from Slack, carrying every unfinished KR into 2027-Q1; each
    team's managers and channel get the retrospective digest, whose charts are written next
    to the database."""
    box = stage.box
    stage.say("Maya types `/okr close` in #general")
    answer = await box.sender.slash_command(
        "/okr", "close", user_id="U0MANAGER", response_url=box.standin.response_url()
    )
    assert answer.status == 200, answer.body
    (opened,) = await box.standin.wait_for("views.open")
    view = opened.params["view"]
    stage.show(opened, "okrbot → a modal only Maya can see")
    stage.say("Maya leaves every unfinished KR ticked and presses *Close cycle*")
    await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        _all_ticked(view),
        user_id="U0MANAGER",
        private_metadata=view["private_metadata"],
    )
    (told,) = await box.standin.wait_for(
        "chat.postMessage", where=lambda call: call.params.get("channel") == "U0MANAGER"
    )
    stage.show(told, "okrbot → DM to Maya")
    retros = await box.standin.wait_for(
        "chat.postMessage", count=RETROS, where=_is_retro, timeout=30
    )
    await box.standin.wait_for(
        "files.completeUploadExternal", count=RETRO_CHARTS, where=_is_retro_chart, timeout=30
    )
    stage.say("The retrospective digests go out to each team's managers and channel")
    for call in retros:
        channel = str(call.params["channel"])
        manager = box.standin.workspace.user_of_dm(channel)
        if manager is not None:
            stage.show(call, f"okrbot → DM to {stage.names.get(manager.id, manager.id)}")
        elif channel == "C0SALES":
            stage.show(call, f"okrbot → {CHANNELS[channel]}")
    print("  (#customer-success got the same as Maya's Customer Success digest)")
    for stored in box.standin.workspace.files.values():
        if stored.name.startswith("okr-retrospective-") and stored.data:
            team = stored.title.split(" · ")[1].lower().replace(" ", "-")
            chart = folder / f"retrospective-{team}.png"
            chart.write_bytes(stored.data)
            print(f"  retrospective chart of {stored.title.split(' · ')[1]}: {chart}")


# Customer Success and Sales: Maya and the channel; Marketing: Rina; Acme: Maya. A chart each.
RETROS, RETRO_CHARTS = 6, 4


def _is_retro(call: Call) -> bool:
    header = next((b for b in call.params.get("blocks") or [] if b.get("type") == "header"), None)
    title = str(header["text"]["text"]) if header else ""
    return title.startswith(("Retrospective · ", "Retrospektif · "))


def _is_retro_chart(call: Call) -> bool:
    return any(
        str(f.get("name", "")).startswith("okr-retrospective-")
        for f in call.response.get("files") or []
    )


def _all_ticked(view: dict[str, Any]) -> dict[str, Any]:
    """The modal's state with every checkbox as it opened (all ticked)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] == "input":
            element = block["element"]
            chosen = list(element.get("initial_options") or [])
            values[block["block_id"]] = {
                "value": {"type": "checkboxes", "selected_options": chosen}
            }
    return values
