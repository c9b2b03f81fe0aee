"""Closing a cycle and carrying KRs over (SPEC §8, issue #9 item 6) on both databases: final
progress, statuses and scores frozen; unfinished KRs carried into the next cycle with their
open initiatives and a link back, the history staying on the original; closed KRs refusing
updates from a command, a DM reply and the API, saying why in the member's language; and
`okrbot cycle close` from the command line."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.errors import InvalidInput, NotFound
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed
from bot.services.closing import close_cycle
from storage.db import Database
from storage.models import Cycle, Initiative, KeyResult, KrUpdate, Objective
from tests.test_api import call, token
from tests.test_app_http import text_of
from tests.test_checkin_loop import reply
from tests.test_cli import okrbot
from tests.test_cycles import FILE

# In 2026-Q4's last days: 88.5 of its 92 days gone, so 96% of it is expected.
NOW = dt.datetime(2026, 12, 28, 12, 0, tzinfo=dt.UTC)
WS = "T0DEMO"


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)  # 2026-Q4, and 2027-Q1 to carry into
        yield box


async def kr(database: Database, number: int) -> KeyResult:
    async with database.read() as session:
        return (await session.exec(select(KeyResult).where(KeyResult.number == number))).one()


async def history_count(database: Database, kr_id: int) -> int:
    async with database.read() as session:
        query = select(func.count()).select_from(KrUpdate).where(KrUpdate.kr_id == kr_id)
        return (await session.exec(query)).one()


async def close(box: Sandbox, **kwargs: object) -> object:
    return await close_cycle(database=box.database, workspace_id=WS, name="2026-Q4", **kwargs)


async def ended_q4(box: Sandbox) -> None:
    """The quarter as it ends: NPS reached 76 and signups passed their target (both from
    `/okr update`); Dewi scored her CLV KR herself (`/okr score`)."""
    assert "76" in text_of(await box.command("/okr", "update KR-1 76", user_id="U0ALICE"))
    assert "3.6" in text_of(await box.command("/okr", "update KR-5 3.6", user_id="U0GITA"))
    scored = text_of(
        await box.command("/okr", "score KR-3 0.4 the upsell launched late", user_id="U0DEWI")
    )
    assert "Nilai KR-3" in scored  # Dewi reads Slack in Bahasa Indonesia


async def test_close_freezes_scores_and_carries_the_unfinished(box: Sandbox) -> None:
    await ended_q4(box)
    nps_history = await history_count(box.database, (await kr(box.database, 1)).id)
    closed = await close(box, now=NOW)

    assert (closed.cycle, closed.next_cycle, closed.objectives) == ("2026-Q4", "2027-Q1", 4)
    frozen = {
        k.short_id: (round(k.progress, 3), k.status, k.score, k.suggested) for k in closed.krs
    }
    assert frozen == {
        "KR-1": (0.6, "off_track", 0.6, True),  # 76 of 70 → 80
        "KR-2": (0.4, "off_track", 0.4, True),  # 5.2 h of 6 → 4
        "KR-3": (0.375, "off_track", 0.4, False),  # scored by its owner
        "KR-4": (0.375, "off_track", 0.4, True),
        "KR-5": (1.067, "on_track", 1.0, True),  # past its target: done, not carried
    }
    assert {k.short_id: k.carried_to for k in closed.carried} == {
        "KR-1": 6,
        "KR-2": 7,
        "KR-3": 8,
        "KR-4": 9,
    }

    nps, carried = await kr(box.database, 1), await kr(box.database, 6)
    assert nps.closed_at is not None and (nps.final_status, nps.current) == ("off_track", 76)
    assert (carried.start, carried.current, carried.target) == (76, 76, 80)
    assert (carried.owner_id, carried.aliases, carried.kpi_id) == (
        "U0ALICE",
        nps.aliases,
        nps.kpi_id,
    )
    assert (carried.carried_from_id, carried.closed_at, carried.score) == (nps.id, None, None)
    # The history stays with the original; the new KR starts with none.
    assert await history_count(box.database, nps.id) == nps_history > 0
    assert await history_count(box.database, carried.id) == 0

    async with box.database.read() as session:
        q1 = (await session.exec(select(Cycle).where(Cycle.name == "2027-Q1"))).one()
        q4 = (await session.exec(select(Cycle).where(Cycle.name == "2026-Q4"))).one()
        home = await session.get(Objective, carried.objective_id)
        satisfaction = (
            await session.exec(
                select(Objective).where(
                    Objective.title == "Increase customer satisfaction",
                    Objective.cycle_id == q4.id,
                )
            )
        ).one()
        initiatives = (
            await session.exec(
                select(Initiative.title, Initiative.status, KeyResult.number)
                .join(KeyResult, KeyResult.id == Initiative.kr_id)
                .where(KeyResult.number >= 6)
            )
        ).all()
    assert q4.closed_at is not None and q1.closed_at is None
    assert (home.title, home.cycle_id, home.owner_id) == (
        "Increase customer satisfaction",
        q1.id,
        "U0MANAGER",
    )
    # NPS 0.6 and reply time 0.4, both weighing 1.
    assert (satisfaction.final_progress, satisfaction.score) == pytest.approx((0.5, 0.5))
    assert satisfaction.final_status == "off_track"
    # Open initiatives come along (the in-progress chat and the planned call), as they were.
    assert sorted(initiatives) == [
        ("Add chat to the mobile app", "in_progress", 6),
        ("Onboarding call for every trial", "planned", 9),
    ]


async def test_carry_none_freezes_without_carrying(box: Sandbox) -> None:
    closed = await close(box, carry="none", now=NOW)
    assert closed.carried == () and closed.next_cycle is None
    async with box.database.read() as session:
        count = (await session.exec(select(func.count()).select_from(KeyResult))).one()
    assert count == 5


async def test_a_second_close_changes_nothing(box: Sandbox) -> None:
    await close(box, now=NOW)
    with pytest.raises(InvalidInput, match="Cycle 2026-Q4 is closed already"):
        await close(box, now=NOW + dt.timedelta(hours=1))
    async with box.database.read() as session:
        count = (await session.exec(select(func.count()).select_from(KeyResult))).one()
    assert count == 10  # five, and the five carried by the first close alone


@pytest.mark.parametrize(
    ("name", "now", "error", "reason"),
    [
        ("2031-Q1", NOW, NotFound, "I could not find cycle 2031-Q1"),
        ("2027-Q1", NOW, InvalidInput, "Cycle 2027-Q1 has not started yet"),
        (
            "2027-Q1",
            dt.datetime(2027, 3, 30, tzinfo=dt.UTC),
            InvalidInput,
            "No cycle follows 2027-Q1 to carry key results into",
        ),
    ],
)
async def test_a_refused_close_writes_nothing(
    box: Sandbox, name: str, now: dt.datetime, error: type[Exception], reason: str
) -> None:
    await close(box, now=NOW, carry="none")
    async with box.database.session() as session:
        # A KR of 2027-Q1 short of its target, so closing it would carry.
        objective = Objective(workspace_id=WS, team_id=1, cycle_id=2, title="Next")
        session.add(objective)
        await session.flush()
        session.add(
            KeyResult(
                workspace_id=WS,
                number=20,
                objective_id=objective.id,
                title="Half way",
                start=0,
                target=10,
                current=5,
            )
        )
    with pytest.raises(error, match=reason):
        await close_cycle(database=box.database, workspace_id=WS, name=name, now=now)
    async with box.database.read() as session:
        q1 = (await session.exec(select(Cycle).where(Cycle.name == "2027-Q1"))).one()
        half = (await session.exec(select(KeyResult).where(KeyResult.number == 20))).one()
    assert q1.closed_at is None and half.closed_at is None and half.score is None


async def test_a_closed_kr_refuses_updates_and_says_why(box: Sandbox) -> None:
    await ended_q4(box)
    await close(box, now=NOW)
    before = await history_count(box.database, (await kr(box.database, 1)).id)

    english = text_of(await box.command("/okr", "update KR-1 78", user_id="U0ALICE"))
    assert "KR-1 is closed with cycle 2026-Q4; it carries on as KR-6: update that one." in english
    # Bob reads Slack in Bahasa Indonesia.
    indonesian = text_of(await box.command("/okr", "update KR-2 5", user_id="U0BOB"))
    assert "KR-2 sudah ditutup bersama siklus 2026-Q4; lanjutannya KR-7" in indonesian
    # Not carried (past its target): closed, with nowhere else to go.
    done = text_of(await box.command("/okr", "update KR-5 3.7", user_id="U0GITA"))
    assert "KR-5 is closed: cycle 2026-Q4 has ended, so it takes no more updates." in done

    # A DM reply naming it (the closed quarter is still the one open by date).
    answer = text_of(await reply(box, "U0ALICE", "1: 78"))
    assert "KR-1 is closed with cycle 2026-Q4" in answer

    # The API refuses it too, as problem details.
    secret = await token(box, "krs:write", name="jira")
    status, body, _ = await call(box, "POST", "/key-results/KR-1/updates", secret, {"value": 79})
    assert status == 403 and "KR-1 is closed with cycle 2026-Q4" in body["detail"]

    nps = await kr(box.database, 1)
    assert nps.current == 76 and await history_count(box.database, nps.id) == before
    # Its alias now means the KR carried over, which takes the update.
    moved = text_of(await box.command("/okr", "update nps 78", user_id="U0ALICE"))
    assert "KR-6" in moved and (await kr(box.database, 6)).current == 78


async def test_undo_of_a_reply_from_before_the_close_is_refused(box: Sandbox) -> None:
    answer = await reply(box, "U0ALICE", "1: 77")
    await close(box, now=NOW)
    before = await history_count(box.database, (await kr(box.database, 1)).id)
    button = blocks_of(answer)[-1]["elements"][0]
    clicked = await box.sender.block_action(
        button["action_id"],
        button["value"],
        user_id="U0ALICE",
        channel_id="D0ALICE",
        message=answer.response["message"],
    )
    assert clicked.status == 200
    (told,) = await box.standin.wait_for("chat.postEphemeral")
    assert "KR-1 is closed with cycle 2026-Q4; it carries on as KR-6" in told.params["text"]
    nps = await kr(box.database, 1)
    assert nps.current == 77 and await history_count(box.database, nps.id) == before
    assert not [call for call in box.standin.calls_to("chat.update")]  # nothing said undone


def test_okrbot_cycle_close_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url}
    path = tmp_path / "cycles.yaml"
    path.write_text(FILE, encoding="utf-8")
    imported = okrbot("import", str(path), "--workspace", "T0CYCLES", env=env)
    assert imported.returncode == 0, imported.stderr
    closed = okrbot("cycle", "close", "2026-Q4", "--workspace", "T0CYCLES", env=env)
    assert closed.returncode == 0, closed.stderr
    # 2027-Q1 already had the reply-time KR (KR-2): the closed one carries on there.
    assert closed.stdout == (
        "okrbot: cycle 2026-Q4 closed: 1 key result frozen (0 scored, 1 at the suggested "
        "score); carried over to 2027-Q1: KR-1 → KR-2\n"
    )
    again = okrbot(
        "cycle", "close", "2026-Q4", "--carry", "none", "--workspace", "T0CYCLES", env=env
    )
    assert (again.returncode, again.stderr) == (2, "okrbot: Cycle 2026-Q4 is closed already.\n")
    unknown = okrbot("cycle", "close", "2031-Q1", "--workspace", "T0CYCLES", env=env)
    assert (unknown.returncode, unknown.stderr) == (2, "okrbot: I could not find cycle 2031-Q1.\n")
    bad = okrbot("cycle", "close", "2026-Q4", "--carry", "all", "--workspace", "T0CYCLES", env=env)
    assert bad.returncode == 2 and "invalid choice: 'all'" in bad.stderr
