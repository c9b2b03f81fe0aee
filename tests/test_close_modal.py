"""A manager's `/okr close` (SPEC §8, issue #9 item 6) through the real HTTP edge on both
databases: the modal with a checkbox per unfinished KR, its submission closing the cycle and
carrying only the KRs ticked, what it did told by DM in the manager's language; refused for
someone who manages no team, and for a cycle already closed."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.blocks import ids
from bot.blocks.modals import build_close_cycle, parse_close_cycle
from bot.sandbox import Sandbox
from bot.services.closing import CloseDraft
from storage.models import KeyResult
from tests.test_app_http import text_of
from tests.test_closing import box, ended_q4, kr

__all__ = ["box"]  # the sandbox fixture, shared with the closing tests


async def opened_view(box: Sandbox, user_id: str, text: str = "close") -> dict[str, Any]:
    answer = await box.sender.slash_command(
        "/okr", text, user_id=user_id, response_url=box.standin.response_url()
    )
    assert answer.status == 200
    (call,) = await box.standin.wait_for("views.open")
    assert call.status == 200, call.response  # the stand-in checks the view as Slack does
    return call.params["view"]


def ticked(view: dict[str, Any], short_ids: set[str]) -> dict[str, Any]:
    """`view.state.values` with only these KRs ticked."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        options = block["element"]["options"]
        chosen = [o for o in options if o["text"]["text"].split()[0] in short_ids]
        values[block["block_id"]] = {"value": {"type": "checkboxes", "selected_options": chosen}}
    return values


async def dm_text(box: Sandbox, user_id: str) -> str:
    calls = await box.standin.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == user_id
    )
    return calls[-1].params["text"]


async def test_the_modal_carries_only_the_krs_ticked(box: Sandbox) -> None:
    await ended_q4(box)
    view = await opened_view(box, "U0MANAGER")
    assert view["callback_id"] == ids.VIEW_CYCLE_CLOSE
    assert view["title"]["text"] == "Close 2026-Q4"
    options = [
        o["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "input"
        for o in b["element"]["options"]
    ]
    # KR-5 passed its target: done, not offered.
    assert options == [
        "KR-1 Increase NPS from 70 to 80 — 60%",
        "KR-2 Reduce average reply time from 6 h to 4 h — 40%",
        "KR-3 Grow customer lifetime value from $800 to $1,200 — 38%",
        "KR-4 Lift trial-to-customer conversion from 8% to 12% — 38%",
    ]
    answer = await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        ticked(view, {"KR-1", "KR-3"}),
        user_id="U0MANAGER",
        private_metadata=view["private_metadata"],
    )
    assert answer.status == 200
    told = await dm_text(box, "U0MANAGER")
    assert told == (
        "cycle 2026-Q4 closed: 5 key results frozen (1 scored, 4 at the suggested score); "
        "carried over to 2027-Q1: KR-1 → KR-6, KR-3 → KR-7"
    )
    assert (await kr(box.database, 6)).carried_from_id == (await kr(box.database, 1)).id
    assert (await kr(box.database, 7)).carried_from_id == (await kr(box.database, 3)).id
    async with box.database.read() as session:
        count = len((await session.exec(select(KeyResult))).all())
    assert count == 7 and (await kr(box.database, 2)).closed_at is not None

    # Submitting the same modal again (a double click, a second manager) changes nothing.
    await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        ticked(view, {"KR-2"}),
        user_id="U0MANAGER",
        private_metadata=view["private_metadata"],
    )
    calls = await box.standin.wait_for(
        "chat.postMessage", count=2, where=lambda c: c.params.get("channel") == "U0MANAGER"
    )
    assert calls[-1].params["text"] == "Cycle 2026-Q4 is closed already."
    async with box.database.read() as session:
        assert len((await session.exec(select(KeyResult))).all()) == 7


async def test_the_modal_in_indonesian_and_for_non_managers(box: Sandbox) -> None:
    refused = text_of(await box.command("/okr", "close", user_id="U0ALICE"))
    assert "Only a team's manager can close a cycle." in refused
    view = await opened_view(box, "U0RINA")  # Rina manages Support; she reads Indonesian
    assert view["title"]["text"] == "Tutup 2026-Q4" and view["submit"]["text"] == "Tutup siklus"
    assert "Menutup 2026-Q4 membekukan" in view["blocks"][0]["text"]["text"]
    labels = {b["label"]["text"] for b in view["blocks"] if b["type"] == "input"}
    assert labels == {"Lanjutkan ke 2027-Q1"}
    await box.sender.view_submission(
        ids.VIEW_CYCLE_CLOSE,
        ticked(view, set()),
        user_id="U0RINA",
        private_metadata=view["private_metadata"],
    )
    told = await dm_text(box, "U0RINA")
    assert told == (
        "siklus 2026-Q4 ditutup: 5 hasil kunci dibekukan (0 dinilai, 5 memakai nilai saran); "
        "tidak ada yang dilanjutkan"
    )


def test_checkboxes_come_ten_to_a_block_and_parse_back() -> None:
    draft = CloseDraft(
        "2026-Q4", "2027-Q1", tuple((n, f"KR-{n}", f"KR number {n}", 0.5) for n in range(1, 24))
    )
    view = build_close_cycle(draft, "en")
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [len(b["element"]["options"]) for b in inputs] == [10, 10, 3]
    assert all(b["element"]["initial_options"] == b["element"]["options"] for b in inputs)
    state = {
        b["block_id"]: {"value": {"selected_options": b["element"]["options"][:2]}} for b in inputs
    }
    assert parse_close_cycle(state) == frozenset({1, 2, 11, 12, 21, 22})
    nowhere = build_close_cycle(CloseDraft("2026-Q4", None, draft.unfinished), "en")
    assert not [b for b in nowhere["blocks"] if b["type"] == "input"]
    assert "No cycle follows 2026-Q4" in nowhere["blocks"][1]["elements"][0]["text"]
