"""`/okr tree` and what `/okr status` and App Home say an objective serves (SPEC §8), through
signed HTTP requests against the real app and the Slack stand-in, on both databases."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bot.blocks.common import MAX_BLOCKS, MAX_SECTION
from bot.blocks.tree import MAX_LINES
from bot.domain import Level, ProgressFrom
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed
from bot.standin.validation import block_problems
from storage.models import Cycle, KeyResult, Objective, Team, Workspace
from tests.test_app_http import text_of

NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)
LEVELS = (1, 4, 15, 60, 220)  # 300 objectives, five levels deep
OBJECTIVE_LINE = re.compile(r"^((?:\u2003\u2003)*)(↳ )?`[▓░]{10}` (\d+%|—).*`O-(\d+)`", re.M)


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        yield box


@pytest.fixture
async def seeded(box: Sandbox) -> Sandbox:
    await load_seed(box)
    return box


async def objective_id(box: Sandbox, title: str) -> int:
    async with box.database.read() as session:
        found = (await session.exec(select(Objective).where(Objective.title == title))).one()
    return found.id or 0


async def build_org(box: Sandbox) -> list[list[int]]:
    """300 objectives in five levels, each serving one of the level above; the levels above
    the last roll up from their children, the last level's KRs all stand at 40%, except one
    objective without KRs. Titles are long and hostile. Returns the ids, level by level."""
    workspace = box.standin.team_id
    async with box.database.session() as session:
        session.add(Workspace(id=workspace))
        await session.flush()
        cycle = Cycle(
            workspace_id=workspace,
            name="2026-Q4",
            start=dt.date(2026, 10, 1),
            end=dt.date(2026, 12, 31),
        )
        session.add(cycle)
        await session.flush()
        teams = [Team(workspace_id=workspace, name="Acme", level=Level.COMPANY)]
        teams += [
            Team(workspace_id=workspace, name=f"Dept {d}", level=Level.DEPARTMENT) for d in range(4)
        ]
        teams += [Team(workspace_id=workspace, name=f"Team {n:02d}") for n in range(20)]
        session.add_all(teams)
        await session.flush()
        levels: list[list[Objective]] = []
        for depth, size in enumerate(LEVELS):
            row = []
            for index in range(size):
                parent = levels[depth - 1][index % LEVELS[depth - 1]] if depth else None
                team = (
                    teams[0]
                    if depth == 0
                    else teams[1 + index % 4]
                    if depth == 1
                    else teams[5 + index % 20]
                )
                row.append(
                    Objective(
                        workspace_id=workspace,
                        team_id=team.id,
                        cycle_id=cycle.id,
                        title=f"<!here> & level {depth} #{index} " + "stretch " * 34,
                        owner_id=f"U0OWNER{index % 7}",
                        position=index,
                        parent_id=parent.id if parent else None,
                        progress_from=ProgressFrom.CHILDREN if depth < 4 else ProgressFrom.KRS,
                    )
                )
            session.add_all(row)
            await session.flush()
            levels.append(row)
        for number, objective in enumerate(levels[-1][:-1], start=1):
            session.add(
                KeyResult(
                    workspace_id=workspace,
                    number=number,
                    objective_id=objective.id,
                    title=f"KR {number}",
                    start=0,
                    target=10,
                    current=4,
                )
            )
    return [[objective.id or 0 for objective in row] for row in levels]


def check_limits(blocks: list[dict]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    assert block_problems(blocks, limit=MAX_BLOCKS) == []
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION


async def test_a_tree_of_300_objectives_five_levels_deep_fits_slack(box: Sandbox) -> None:
    levels = await build_org(box)
    call = await box.command("/okr", "tree", user_id="U0OWNER1")
    blocks = blocks_of(call)
    check_limits(blocks)
    text = text_of(call)
    assert call.params["response_type"] == "ephemeral"
    assert "Alignment · 2026-Q4" in text and call.params["text"] == "Alignment: 300 objectives"
    lines = OBJECTIVE_LINE.findall(text)
    assert len(lines) == MAX_LINES
    # Top levels first: the root, all of levels 1 to 3, then the first of level 4.
    depth_of = {i: d for d, row in enumerate(levels) for i in row}
    shown = [int(number) for *_, number in lines]
    assert shown[0] == levels[0][0] and set(levels[1] + levels[2]) <= set(shown)
    for indent, arrow, _, number in lines:
        assert len(indent) // 2 == depth_of[int(number)] and bool(arrow) == (indent != "")
    # Each parent is listed before what serves it, and the root rolls up to 40%.
    assert lines[0][2] == "40%"
    assert f"…and {300 - MAX_LINES} more." in text
    assert "&lt;!here&gt; &amp; level 0 #0" in text and "<!here>" not in text
    hidden_under = re.findall(r"…and (\d+) more: `/okr tree O-(\d+)`", text)
    assert hidden_under and sum(int(count) for count, _ in hidden_under) == 300 - MAX_LINES


async def test_a_branch_by_id_and_by_team(box: Sandbox) -> None:
    levels = await build_org(box)
    branch = levels[2][-1]  # a level-2 objective: itself, 4 below it, and their 15 or so leaves
    text = text_of(await box.command("/okr", f"tree O-{branch}", user_id="U0OWNER1"))
    lines = OBJECTIVE_LINE.findall(text)
    assert int(lines[0][3]) == branch and lines[0][0] == ""  # the branch starts at the left
    assert "more" not in text and len(lines) < MAX_LINES
    # The objective without KRs (the last leaf) shows no progress, not 0%.
    last_leaf = levels[4][-1]
    parent_of_last = levels[3][(LEVELS[4] - 1) % LEVELS[3]]
    text = text_of(await box.command("/okr", f"tree O-{parent_of_last}", user_id="U0OWNER1"))
    (leaf,) = [line for line in OBJECTIVE_LINE.findall(text) if int(line[3]) == last_leaf]
    assert leaf[2] == "—"
    team = text_of(await box.command("/okr", "tree dept 3", user_id="U0OWNER1"))
    team_lines = OBJECTIVE_LINE.findall(team)
    assert [int(n) for indent, _, _, n in team_lines if indent == ""] == [levels[1][3]]


async def test_tree_of_the_seed_and_unknown_references(seeded: Sandbox) -> None:
    text = text_of(await seeded.command("/okr", "tree", user_id="U0ALICE"))
    top = await objective_id(seeded, "Grow a healthy, loved business")
    lines = OBJECTIVE_LINE.findall(text)
    assert int(lines[0][3]) == top and len(lines) == 4
    # (40% + 37.5% + 20%) / 3 = 32.5% -> 33%, at risk half-way through the cycle's 50%.
    (root,) = [line for line in text.splitlines() if f"`O-{top}`" in line]
    assert lines[0][2] == "33%" and "33% · :large_yellow_circle: at risk · `O-" in root
    assert " · Acme · <@U0MANAGER>" in text
    missing = text_of(await seeded.command("/okr", "tree O-99999", user_id="U0ALICE"))
    assert "I could not find O-99999." in missing
    nobody = text_of(await seeded.command("/okr", "tree Nobody", user_id="U0ALICE"))
    assert "I could not find Nobody." in nobody
    bob = text_of(await seeded.command("/okr", "tree", user_id="U0BOB"))
    assert "Keselarasan · 2026-Q4" in bob and "berisiko" in bob


async def test_status_and_home_name_what_each_objective_serves(seeded: Sandbox) -> None:
    top = await objective_id(seeded, "Grow a healthy, loved business")
    status = text_of(await seeded.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS"))
    assert f"↳ serves `O-{top}` Grow a healthy, loved business" in status
    company = text_of(await seeded.command("/okr", "status acme", user_id="U0ALICE"))
    assert "*Grow a healthy, loved business* — 33% · owner <@U0MANAGER>" in company
    bob = text_of(await seeded.command("/okr", "status", user_id="U0BOB", channel_id="C0CS"))
    assert f"↳ mendukung `O-{top}` Grow a healthy, loved business" in bob
    await seeded.sender.app_home_opened("U0ALICE")
    (home,) = await seeded.standin.wait_for(
        "views.publish", where=lambda call: call.params.get("user_id") == "U0ALICE"
    )
    assert f"↳ serves `O-{top}` Grow a healthy, loved business" in text_of(home)


async def test_an_objective_with_nothing_to_average_shows_no_progress(seeded: Sandbox) -> None:
    async with seeded.database.session() as session:
        acme = (await session.exec(select(Team).where(Team.name == "Acme"))).one()
        # The seed's quarter (it also holds 2027-Q1, to carry into).
        cycle = (await session.exec(select(Cycle).where(Cycle.name == "2026-Q4"))).one()
        session.add(
            Objective(
                workspace_id=acme.workspace_id,
                team_id=acme.id,
                cycle_id=cycle.id,
                title="Be a great place to work",
                position=9,
            )
        )
    text = text_of(await seeded.command("/okr", "status acme", user_id="U0ALICE"))
    assert "*Be a great place to work* — `—` · owner —" in text
    assert "0%" not in text.split("Be a great place to work")[1]
