"""The digest's Block Kit builder, without mocks: wording, escaping, numbers, Slack's limits."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.blocks.common import MAX_BLOCKS, MAX_SECTION
from bot.blocks.digest import MAX_LINES, build_digest
from bot.blocks.render import render
from bot.progress import KpiStatus, KrStatus, Trend
from bot.services.digests import (
    Away,
    Digest,
    Flip,
    InitiativeMove,
    KpiLine,
    Note,
    ObjectiveLine,
    Participation,
    RoundInfo,
    Silent,
)
from bot.services.okrs import KrView
from bot.standin.validation import message_problems


def kr(number: int, *, status: KrStatus = KrStatus.AT_RISK, title: str = "Grow NPS") -> KrView:
    return KrView(
        id=number,
        number=number,
        title=title,
        owner_id="U0ALICE",
        start=0,
        target=100,
        current=30,
        unit="points",
        weight=1,
        progress=0.3,
        exceeded=False,
        status=status,
        confidence=3,
    )


def digest(**changes: object) -> Digest:
    krs = (kr(1), kr(2, status=KrStatus.OFF_TRACK))
    base = Digest(
        workspace_id="T1",
        team_id=1,
        team_name="Support",
        cycle_name="2026-Q4",
        expected=0.5,
        first=False,
        round=RoundInfo(7, dt.datetime(2026, 11, 16, 3, tzinfo=dt.UTC), closed=True),
        objectives=(ObjectiveLine("Delight customers", 0.45, 0.05),),
        key_results=krs,
        flips=(Flip(krs[1], KrStatus.ON_TRACK),),
        attention=(krs[1], krs[0]),
        notes=(Note("KR-1", "U0ALICE", "vendor is late", 3),),
        participation=Participation(
            asked=3,
            replied=("U0ALICE",),
            skipped=(),
            silent=(Silent("U0BOB", 2),),
            away=(Away("U0CAROL", dt.date(2026, 12, 1)),),
        ),
        kpis=(
            KpiLine(
                name="Tickets per month",
                unit="tickets",
                target=1000,
                warn=1200,
                status=KpiStatus.WARN,
                periods=("2026-09", "2026-10", "2026-11"),
                values=(1310, 1240, 1180.5),
                trend=Trend.IMPROVING,
            ),
        ),
        initiatives=(InitiativeMove("Chat in the app", "KR-1", "in_progress", "done"),),
        recipients=(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def text(blocks: list[dict]) -> str:
    return render(blocks, {})


def test_manager_digest_reads_in_thirty_seconds() -> None:
    message = build_digest(digest(), "en")
    assert message_problems(message.as_kwargs()) is None
    assert message.text == "OKR digest · Support: 2 KRs need attention"
    shown = text(message.blocks)
    assert (
        "2026-Q4 · round of Nov 16, 2026 · expected progress 50% · changes since the last digest"
        in shown
    )
    assert "45% Delight customers · +5 pts" in shown
    assert "KR-2 Grow NPS: 🟢 on track → 🔴 off track" in shown
    assert "KR-2 Grow NPS · 🔴 off track · 30% (expected 50%) · confidence 3/10 · @U0ALICE" in shown
    assert "KR-1 @U0ALICE: _vendor is late_ · 3 rounds in a row" in shown
    assert "Check-ins: 1 of 3 answered" in shown and "No reply: @U0BOB (2 rounds)" in shown
    assert "Away: @U0CAROL (until Dec 1, 2026)" in shown
    assert "1,180.5 tickets · target 1,000 tickets · warn at 1,200 tickets · █▄▁ improving" in shown
    assert "Chat in the app (KR-1): in progress → done" in shown
    assert "Every KR, its owner and its history are in okrbot's Home tab." in shown


def test_indonesian_digest_formats_numbers_and_words() -> None:
    shown = text(build_digest(digest(), "id").blocks)
    assert "1.180,5 tickets" in shown and "1 Des 2026" in shown


def test_channel_report_has_no_individual_participation() -> None:
    shown = text(build_digest(digest(), "en", for_channel=True).blocks)
    assert "Check-ins" not in shown and "@U0BOB" not in shown and "Away" not in shown
    assert "Status changes" in shown and "Blockers and notes" in shown


def test_home_link_when_the_app_id_is_known() -> None:
    url = "slack://app?team=T1&id=A1&tab=home"
    last = build_digest(digest(), "en", home_url=url).blocks[-1]
    assert f"<{url}|Open okrbot's Home tab>" in last["elements"][0]["text"]


def test_a_calm_week_says_so() -> None:
    calm = digest(flips=(), attention=(), notes=(), initiatives=(), first=True)
    shown = text(build_digest(calm, "en").blocks)
    assert "Every key result is on track, with no low confidence." in shown
    assert "changes in the last 7 days" in shown
    assert "Status changes" not in shown and "Blockers" not in shown


def test_hostile_text_is_escaped() -> None:
    evil = "<!channel> <https://x.test|click>"
    message = build_digest(
        digest(
            team_name=evil,
            objectives=(ObjectiveLine(evil, 0.1, 0.0),),
            notes=(Note("KR-1", "U0ALICE", evil, 1),),
            initiatives=(InitiativeMove(evil, "KR-1", "planned", "done"),),
        ),
        "en",
    )
    mrkdwn = str([message.text, *(b for b in message.blocks if b["type"] != "header")])
    assert "<!channel>" not in mrkdwn and "<https://x.test" not in mrkdwn
    assert "no change" in text(message.blocks)


def test_a_huge_team_stays_within_slacks_limits() -> None:
    many = tuple(kr(n, title="A very long key result title " * 8) for n in range(1, 400))
    note = Note("KR-1", "U0ALICE", "blocked " * 400, 2)
    big = digest(
        key_results=many,
        attention=many,
        flips=tuple(Flip(k, KrStatus.ON_TRACK) for k in many),
        notes=(note,) * 300,
        objectives=tuple(ObjectiveLine("Objective " * 20, 0.5, 0.0) for _ in range(200)),
        participation=Participation(
            asked=500,
            replied=tuple(f"U{n:08}" for n in range(300)),
            skipped=(),
            silent=tuple(Silent(f"U{n:08}", 3) for n in range(300)),
            away=(),
        ),
    )
    message = build_digest(big, "en")
    assert message_problems(message.as_kwargs()) is None
    assert len(message.blocks) <= MAX_BLOCKS
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert all(len(s) <= MAX_SECTION for s in sections)
    assert f"…and {399 - MAX_LINES} more in the Home tab" in text(message.blocks)
    assert "blocked blocked" in text(message.blocks) and "blocked " * 100 not in text(
        message.blocks
    )
