"""Alignment in the import file (SPEC §8) on both databases: levels, parents by title or id,
loops and other cycles refused with the path and nothing written, and the export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.errors import ImportFileError
from bot.services.exports import export_data, to_yaml
from bot.services.imports import import_file
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Objective, Team
from tests.test_cli import okrbot

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "alignment.yaml"
WS = "T0ALIGN"


async def load(database: Database, text: str, filename: str = "org.yaml"):
    return await import_file(database=database, workspace_id=WS, text=text, filename=filename)


async def export_yaml(database: Database) -> str:
    return to_yaml(await export_data(database=database, workspace_id=WS))


async def objectives(database: Database) -> dict[str, Objective]:
    async with database.read() as session:
        rows = (await session.exec(select(Objective))).all()
    return {row.title: row for row in rows}


async def teams(database: Database) -> dict[str, Team]:
    async with database.read() as session:
        return {row.name: row for row in (await session.exec(select(Team))).all()}


async def count(database: Database, model: type) -> int:
    async with database.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_levels_parents_weights_and_roll_up_sources_are_stored(database: Database) -> None:
    report = await load(database, EXAMPLE.read_text())
    assert report.created["team"] == 4 and report.created["objective"] == 4
    assert not report.updated, report.updated  # parents set while creating are not "updates"
    team = await teams(database)
    assert (team["Acme"].level, team["Acme"].parent_id) == ("company", None)
    assert (team["Customers"].level, team["Customers"].parent_id) == ("department", team["Acme"].id)
    assert (team["Support"].level, team["Support"].parent_id) == ("team", team["Customers"].id)
    found = await objectives(database)
    top, middle = found["Delight every customer"], found["Keep customers for life"]
    cs, support = found["Increase customer satisfaction"], found["Answer customers faster"]
    assert (top.parent_id, top.progress_from, top.weight) == (None, "children", 1.0)
    assert (middle.parent_id, middle.progress_from) == (top.id, "both")
    assert (cs.parent_id, cs.weight, cs.progress_from) == (middle.id, 2.0, "krs")
    assert support.parent_id == middle.id
    again = await load(database, EXAMPLE.read_text())
    assert not again.changed, (again.created, again.updated)


async def test_a_parent_by_id_and_a_re_parenting_reimport(database: Database) -> None:
    await load(database, EXAMPLE.read_text())
    found = await objectives(database)
    top = found["Delight every customer"].id
    text = EXAMPLE.read_text().replace(
        "    parent: Keep customers for life\n    key_results:\n      - {title: Reduce",
        f"    parent: O-{top}\n    key_results:\n      - {{title: Reduce",
    )
    assert text != EXAMPLE.read_text()
    report = await load(database, text)
    assert report.updated["objective"] == 1 and not report.created
    assert (await objectives(database))["Answer customers faster"].parent_id == top


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            ("    progress_from: children ", "    parent: Answer customers faster\n    #"),
            "objectives[0].parent",
            "would make a loop: Delight every customer → Answer customers faster → "
            "Keep customers for life → Delight every customer",
        ),
        (
            (
                "    parent: Keep customers for life\n    weight: 2",
                "    parent: Increase customer satisfaction\n    weight: 2",
            ),
            "objectives[2].parent",
            "would make a loop: Increase customer satisfaction → Increase customer satisfaction",
        ),
        (
            ("    parent: Delight every customer ", "    parent: Delight everyone "),
            "objectives[1].parent",
            "unknown objective 'Delight everyone' in cycle 2026-Q4",
        ),
        (
            ("    parent: Delight every customer ", "    parent: O-999999 "),
            "objectives[1].parent",
            "no objective O-999999 in this workspace",
        ),
        (
            ("  - name: Acme\n    level: company ", "  - name: Acme\n    parent: Support\n    #"),
            "teams[0].parent",
            "would make a loop: Acme → Support → Customers → Acme",
        ),
        (
            ("    parent: Acme ", "    parent: Acme Corp "),
            "teams[1].parent",
            "unknown team 'Acme Corp'",
        ),
        (
            ("level: department", "level: division"),
            "teams[1].level",
            "input should be 'company', 'department' or 'team'",
        ),
        (("weight: 2 ", "weight: 0 "), "objectives[2].weight", "input should be greater than 0"),
        (
            ("progress_from: both", "progress_from: all"),
            "objectives[1].progress_from",
            "input should be 'krs', 'children' or 'both'",
        ),
    ],
)
async def test_a_bad_alignment_is_refused_with_its_path_and_nothing_is_written(
    database: Database, change: tuple[str, str], path: str, reason: str
) -> None:
    text = EXAMPLE.read_text()
    assert change[0] in text
    with pytest.raises(ImportFileError) as caught:
        await load(database, text.replace(change[0], change[1], 1), "org.yaml")
    assert f"org.yaml: {path}: {reason}" in str(caught.value)
    assert await count(database, Objective) == 0 and await count(database, Team) == 0


async def test_a_loop_through_stored_objectives_is_refused(database: Database) -> None:
    """The file names only the top objective, but its new parent is stored below it."""
    await load(database, EXAMPLE.read_text())
    before = await export_yaml(database)
    text = EXAMPLE.read_text()
    start, end = text.index("objectives:"), text.index("  - title: Keep customers for life")
    only_top = text[:end].replace(
        "    progress_from: children", "    parent: Answer customers faster"
    )
    assert only_top.count("- title:") == 1 and start < end
    with pytest.raises(ImportFileError) as caught:
        await load(database, only_top)
    assert (
        "objectives[0].parent: would make a loop: Delight every customer → Answer customers "
        "faster → Keep customers for life → Delight every customer"
    ) in str(caught.value)
    assert await export_yaml(database) == before


async def test_a_parent_in_another_cycle_is_refused(database: Database) -> None:
    q3 = EXAMPLE.read_text().replace(
        "cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}",
        "cycle: {name: 2026-Q3, start: 2026-07-01, end: 2026-09-30}",
    )
    await load(database, q3)
    old_top = (await objectives(database))["Delight every customer"].id
    q4 = (
        "cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}\n"
        "objectives:\n"
        "  - {title: Delight customers again, team: Acme, parent: Delight every customer}\n"
        f"  - {{title: And by id, team: Acme, parent: O-{old_top}}}\n"
    )
    with pytest.raises(ImportFileError) as caught:
        await load(database, q4, "q4.yaml")
    message = str(caught.value)
    assert (
        "q4.yaml: objectives[0].parent: 'Delight every customer' is in cycle 2026-Q3, not "
        "2026-Q4: a parent must be of the same cycle"
    ) in message
    assert f"q4.yaml: objectives[1].parent: O-{old_top} is in cycle 2026-Q3" in message
    assert await count(database, Objective) == 4


async def test_a_title_shared_by_two_teams_must_be_named_by_id(database: Database) -> None:
    text = EXAMPLE.read_text() + (
        "  - {title: Delight every customer, team: Support}\n"
        "  - {title: Serve someone, team: Support, parent: Delight every customer}\n"
    )
    with pytest.raises(ImportFileError) as caught:
        await load(database, text, "org.yaml")
    assert (
        "org.yaml: objectives[5].parent: 'Delight every customer' is an objective of several "
        "teams (Acme, Support): name it O-n"
    ) in str(caught.value)


async def test_export_round_trips_alignment(database: Database, tmp_path: Path) -> None:
    await load(database, EXAMPLE.read_text())
    first = await export_yaml(database)
    assert "level: department" in first and "parent: Keep customers for life" in first
    assert "weight: 2.0" in first and "progress_from: both" in first
    assert not (await load(database, first)).changed
    assert await export_yaml(database) == first
    fresh = Database.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        await upgrade(fresh)
        await import_file(database=fresh, workspace_id=WS, text=first, filename="export.yaml")
        assert to_yaml(await export_data(database=fresh, workspace_id=WS)) == first
    finally:
        await fresh.dispose()


async def test_a_shared_title_is_exported_by_id_and_round_trips(database: Database) -> None:
    await load(database, EXAMPLE.read_text())
    middle = (await objectives(database))["Keep customers for life"].id
    text = (
        EXAMPLE.read_text().replace("parent: Keep customers for life", f"parent: O-{middle}")
        + "  - {title: Keep customers for life, team: Support}\n"
    )
    report = await load(database, text)
    assert report.created["objective"] == 1
    first = await export_yaml(database)
    assert first.count(f"parent: O-{middle}") == 2
    assert not (await load(database, first)).changed
    assert await export_yaml(database) == first


def test_okrbot_import_refuses_a_loop_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text(
        EXAMPLE.read_text().replace(
            "    progress_from: children ", "    parent: Increase customer satisfaction\n    #"
        )
    )
    env = {"DATABASE_URL": db_url}
    result = okrbot("import", str(loop), "--workspace", WS, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"{loop}: objectives[0].parent: would make a loop: Delight every customer → Increase "
        "customer satisfaction → Keep customers for life → Delight every customer"
    ) in result.stderr
    assert "objectives: []" in okrbot("export", "--workspace", WS, env=env).stdout
    assert okrbot("import", str(EXAMPLE), "--workspace", WS, env=env).returncode == 0
    exported = okrbot("export", "--workspace", WS, env=env).stdout
    assert "parent: Keep customers for life" in exported
