"""Several cycles in one import file (SPEC §8) on both databases: each objective in its cycle,
the default cycle, refusals, and export → import → export unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.errors import ImportFileError
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.services.exports import export_data, to_yaml
from bot.services.imports import import_file
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Cycle, Objective
from tests.test_app_http import text_of
from tests.test_cli import okrbot

WS = "T0CYCLES"
TODAY = dt.date(2026, 11, 16)
FILE = """
cycles:
  - {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, scoring_days: 5}
  - {name: 2027-Q1, start: 2027-01-01, end: 2027-03-31}
teams:
  - {name: Acme, level: company, managers: [U0CEO]}
  - {name: Support, parent: Acme, managers: [U0RINA], members: [U0CAROL]}
objectives:
  - {title: Delight every customer, team: Acme, progress_from: children}
  - title: Answer customers faster
    team: Support
    parent: Delight every customer
    key_results:
      - {id: KR-1, title: Cut reply time, owner: U0CAROL, start: 6, target: 4, current: 5, unit: h}
  - {title: Delight every customer, team: Acme, cycle: 2027-Q1, progress_from: children}
  - title: Answer customers faster
    team: Support
    cycle: 2027-Q1
    parent: Delight every customer
    key_results:
      - {id: KR-2, title: Cut reply time, owner: U0CAROL, start: 5, target: 3, unit: h}
"""


async def load(database: Database, text: str, today: dt.date = TODAY):
    return await import_file(
        database=database, workspace_id=WS, text=text, filename="cycles.yaml", today=today
    )


async def export_yaml(database: Database) -> str:
    return to_yaml(await export_data(database=database, workspace_id=WS))


async def test_each_objective_lands_in_its_cycle(database: Database) -> None:
    report = await load(database, FILE)
    assert report.created["cycle"] == 2 and report.created["objective"] == 4
    async with database.read() as session:
        cycles = {c.id: c for c in (await session.exec(select(Cycle))).all()}
        objectives = (await session.exec(select(Objective).order_by(Objective.id))).all()
    assert [(c.name, c.scoring_days) for c in cycles.values()] == [("2026-Q4", 5), ("2027-Q1", 7)]
    placed = [(o.title, cycles[o.cycle_id].name) for o in objectives]
    assert placed == [
        ("Delight every customer", "2026-Q4"),
        ("Answer customers faster", "2026-Q4"),
        ("Delight every customer", "2027-Q1"),
        ("Answer customers faster", "2027-Q1"),
    ]
    # Each cycle's "Answer customers faster" serves its own cycle's company objective.
    assert objectives[1].parent_id == objectives[0].id
    assert objectives[3].parent_id == objectives[2].id
    assert not (await load(database, FILE)).changed


@pytest.mark.parametrize(
    ("change", "today", "path", "reason"),
    [
        (
            ("cycles:\n", "cycle: {name: X, start: 2026-01-01, end: 2026-02-01}\ncycles:\n"),
            TODAY,
            "",
            "give either cycle or cycles, not both",
        ),
        (
            ("cycle: 2027-Q1, progress_from", "cycle: 2027-Q2, progress_from"),
            TODAY,
            "objectives[2].cycle",
            "unknown cycle '2027-Q2'",
        ),
        (
            ("", ""),
            dt.date(2027, 6, 1),
            "objectives[0].cycle",
            "no cycle is open today: say which (2026-Q4, 2027-Q1)",
        ),
        (
            ("    cycle: 2027-Q1\n    parent: Delight", "    cycle: 2027-Q1\n    parent: Nowhere"),
            TODAY,
            "objectives[3].parent",
            "unknown objective 'Nowhere every customer' in cycle 2027-Q1",
        ),
        (
            (
                "  - {title: Delight every customer, team: Acme, cycle: 2027-Q1, progress_from: "
                "children}\n",
                "",
            ),
            TODAY,
            "objectives[2].parent",
            "'Delight every customer' is in cycle 2026-Q4, not 2027-Q1: a parent must be of the "
            "same cycle",
        ),
        (
            (
                "  - {name: 2027-Q1, start: 2027-01-01, end: 2027-03-31}",
                "  - {name: 2026-Q4, start: 2027-01-01, end: 2027-03-31}",
            ),
            TODAY,
            "cycles[1]",
            "'2026-Q4' appears twice",
        ),
        (
            (FILE[FILE.index("cycles:") : FILE.index("teams:")], ""),
            TODAY,
            "",
            "the file needs its cycle (cycle: or cycles:)",
        ),
    ],
)
async def test_a_bad_cycle_is_refused_with_its_path_and_nothing_is_written(
    database: Database, change: tuple[str, str], today: dt.date, path: str, reason: str
) -> None:
    assert change[0] in FILE
    with pytest.raises(ImportFileError) as caught:
        await load(database, FILE.replace(change[0], change[1], 1), today)
    where = f"cycles.yaml: {path}: " if path else "cycles.yaml: "
    assert where + reason in str(caught.value)
    async with database.read() as session:
        assert (await session.exec(select(Cycle))).all() == []


async def test_export_round_trips_several_cycles(database: Database, tmp_path: Path) -> None:
    await load(database, FILE)
    first = await export_yaml(database)
    assert "cycles:" in first and "scoring_days: 5" in first and "cycle: 2027-Q1" in first
    assert not (await load(database, first)).changed
    assert await export_yaml(database) == first
    fresh = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        await upgrade(fresh)
        await import_file(
            database=fresh, workspace_id=WS, text=first, filename="export.yaml", today=TODAY
        )
        assert to_yaml(await export_data(database=fresh, workspace_id=WS)) == first
    finally:
        await fresh.dispose()


async def test_a_later_file_adds_a_cycle_and_keeps_the_first(database: Database) -> None:
    """A workspace that ran one cycle imports the next: objectives may name either."""
    q4 = FILE.split("  - {title: Delight every customer, team: Acme, cycle: 2027-Q1")[0]
    q4 = q4.replace("  - {name: 2027-Q1, start: 2027-01-01, end: 2027-03-31}\n", "")
    await load(database, q4)
    before = await export_yaml(database)
    assert "cycle:\n  name: 2026-Q4\n" in before and "cycles:" not in before
    q1 = (
        "cycle: {name: 2027-Q1, start: 2027-01-01, end: 2027-03-31}\n"
        "objectives:\n"
        "  - {title: Keep the lights on, team: Support}\n"
        "  - {title: Look back, team: Support, cycle: 2026-Q4}\n"
    )
    report = await load(database, q1)
    assert report.created["cycle"] == 1 and report.created["objective"] == 2
    after = await export_yaml(database)
    assert "cycles:" in after and "cycle: 2027-Q1" in after and "Look back" in after


def test_okrbot_cycle_start_creates_a_cycle_and_refuses_overlaps(db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    made = okrbot(
        "cycle",
        "start",
        "2027-Q1",
        "--start",
        "2027-01-01",
        "--end",
        "2027-03-31",
        "--workspace",
        WS,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == "okrbot: cycle 2027-Q1 created, 2027-01-01 to 2027-03-31\n"
    overlap = okrbot(
        "cycle",
        "start",
        "2027-Q1b",
        "--start",
        "2027-03-01",
        "--end",
        "2027-05-31",
        "--workspace",
        WS,
        env=env,
    )
    assert overlap.returncode == 2
    assert overlap.stderr == (
        "okrbot: 2027-Q1b would overlap cycle 2027-Q1 (2027-01-01 to 2027-03-31).\n"
    )
    backwards = okrbot(
        "cycle",
        "start",
        "2027-Q2",
        "--start",
        "2027-06-30",
        "--end",
        "2027-04-01",
        "--workspace",
        WS,
        env=env,
    )
    assert backwards.stderr == "okrbot: A cycle must end after it starts.\n"
    bad_date = okrbot("cycle", "start", "Q3", "--start", "July", "--end", "2027-09-30", env=env)
    assert bad_date.returncode == 2 and "'July' is not a date like 2027-01-01" in bad_date.stderr
    exported = okrbot("export", "--workspace", WS, env=env).stdout
    assert "cycle:\n  name: 2027-Q1\n  start: 2027-01-01\n  end: 2027-03-31\n" in exported


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    now = dt.datetime.combine(TODAY, dt.time(3), tzinfo=dt.UTC)
    async with sandbox(db_url, clock=lambda: now, migrate=False) as box:
        await import_file(
            database=box.database,
            workspace_id=box.standin.team_id,
            text=FILE,
            filename="cycles.yaml",
            today=TODAY,
        )
        yield box


async def test_status_of_a_named_cycle_through_the_http_edge(box: Sandbox) -> None:
    now = text_of(await box.command("/okr", "status Support", user_id="U0CAROL"))
    assert "Support · 2026-Q4" in now and "5 h / 4 h" in now
    q1 = text_of(await box.command("/okr", "status Support 2027-Q1", user_id="U0CAROL"))
    assert "Support · 2027-Q1" in q1 and "5 h / 3 h" in q1 and "5 h / 4 h" not in q1
    # The cycle alone means the caller's (or the channel's) teams in that cycle.
    mine = text_of(await box.command("/okr", "status 2027-q1", user_id="U0CAROL"))
    assert "Support · 2027-Q1" in mine and "`KR-2`" in mine and "`KR-1`" not in mine
    # A company objective rolls up its own cycle's children: 50% now, 0% in 2027-Q1.
    acme_now = text_of(await box.command("/okr", "status acme", user_id="U0CAROL"))
    assert "*Delight every customer* — 50% · owner —" in acme_now
    acme_q1 = text_of(await box.command("/okr", "status Acme 2027-Q1", user_id="U0CAROL"))
    assert "Acme · 2027-Q1" in acme_q1 and "*Delight every customer* — 0% · owner —" in acme_q1
    past = text_of(await box.command("/okr", "history KR-2", user_id="U0CAROL"))
    assert "Cut reply time" in past


async def test_a_word_that_is_no_cycle_is_part_of_the_team_name(box: Sandbox) -> None:
    text = text_of(await box.command("/okr", "status Support 2031-Q9", user_id="U0CAROL"))
    assert "Support · " not in text and "Support 2031-Q9" in text


async def test_sharing_a_past_cycles_status_shares_that_cycle(box: Sandbox) -> None:
    call = await box.command("/okr", "status Support 2027-Q1", user_id="U0RINA")
    button = next(b for b in blocks_of(call) if b["type"] == "actions")["elements"][0]
    assert button["value"].endswith("@2027-Q1")
    answer = await box.sender.block_action(
        button["action_id"],
        button["value"],
        user_id="U0RINA",
        channel_id="C0SUP",
        response_url=box.standin.response_url(),
    )
    assert answer.status == 200
    (shared,) = await box.standin.wait_for("response_url")
    assert shared.params["response_type"] == "in_channel"
    assert "Support · 2027-Q1" in text_of(shared) and "5 h / 3 h" in text_of(shared)
