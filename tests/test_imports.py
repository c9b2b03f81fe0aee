"""Import and export (SPEC §4) on both databases: idempotent, all or nothing, round-tripping."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.errors import ImportFileError
from bot.services.exports import export_data, to_csv, to_yaml
from bot.services.imports import import_file
from storage.db import Database
from storage.models import KeyResult, KpiMeasurement, KrUpdate, Membership, Objective, Person

SEED = Path(__file__).resolve().parents[1] / "examples" / "okrs.yaml"
WS = "T0TEST"
DIRECTORY = {"bob@example.com": "U0BOB"}


async def resolve(email: str) -> str | None:
    return DIRECTORY.get(email)


async def load(database: Database, text: str, filename: str = "okrs.yaml"):
    return await import_file(
        database=database, workspace_id=WS, text=text, filename=filename, resolve_email=resolve
    )


async def count(database: Database, model: type) -> int:
    async with database.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def export_yaml(database: Database) -> str:
    return to_yaml(await export_data(database=database, workspace_id=WS))


async def test_seed_import_creates_everything(database: Database) -> None:
    report = await load(database, SEED.read_text())
    assert report.created["team"] == 5  # four teams and the company
    assert report.created["objective"] == 4
    assert report.created["key_result"] == 5
    assert report.created["kpi"] == 7
    async with database.session() as session:
        nps = (
            await session.exec(select(KeyResult).where(KeyResult.title.startswith("Increase NPS")))
        ).one()
        bob = (await session.exec(select(Person).where(Person.user_id == "U0BOB"))).one()
    assert (nps.number, nps.start, nps.target, nps.current, nps.aliases) == (
        1,
        70,
        80,
        74,
        ["nps", "net promoter score"],
    )
    assert bob.email == "bob@example.com"


async def test_importing_twice_changes_nothing(database: Database) -> None:
    await load(database, SEED.read_text())
    first = await export_yaml(database)
    updates = await count(database, KrUpdate)
    report = await load(database, SEED.read_text())
    assert not report.changed, (report.created, report.updated)
    assert await export_yaml(database) == first
    assert await count(database, KrUpdate) == updates


async def test_export_reimports_to_the_same_state(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    await load(database, SEED.read_text())
    exported = await export_yaml(database)
    assert "bob@example.com" not in exported and "U0BOB" in exported
    fresh_url = f"sqlite:///{tmp_path / 'second.db'}"
    from storage.migrate import upgrade

    second = Database.connect(fresh_url)
    try:
        await upgrade(second)
        await load(second, exported, "export.yaml")
        assert await export_yaml(second) == exported
        report = await load(second, exported, "export.yaml")
        assert not report.changed
    finally:
        await second.dispose()


async def test_reimport_moves_current_and_keeps_history(database: Database) -> None:
    await load(database, SEED.read_text())
    await load(database, SEED.read_text().replace("current: 74", "current: 77"))
    async with database.session() as session:
        update = (await session.exec(select(KrUpdate))).one()
    assert (update.old_value, update.new_value, update.source) == (74, 77, "import")


async def test_membership_follows_the_file(database: Database) -> None:
    await load(database, SEED.read_text())
    before = await count(database, Membership)
    await load(
        database,
        SEED.read_text().replace("members: [U0ALICE, bob@example.com]", "members: [U0ALICE]"),
    )
    assert await count(database, Membership) == before - 1


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (("target: 80", "target: eighty"), "objectives[0].key_results[0].target", "valid number"),
        (
            ("team: Sales\n    owner: U0MANAGER", "team: Salez\n    owner: U0MANAGER"),
            "objectives[1].team",
            "unknown team 'Salez'",
        ),
        (
            ("kpi: Average reply time", "kpi: Avg reply"),
            "objectives[0].key_results[1].kpi",
            "unknown KPI",
        ),
        (("warn: 6\n", "warn: 3\n"), "kpis[4]", "warn must be above target"),
        (
            ('schedule: "0 10 * * tue"', 'schedule: "every tuesday"'),
            "teams[3].checkin.schedule",
            "cron",
        ),
        (
            ("timezone: Asia/Jakarta,", "timezone: Mars/Olympus,"),
            "teams[0].checkin.timezone",
            "unknown timezone",
        ),
        (
            ("period: 2026-09, value: 6.1", "period: September, value: 6.1"),
            "kpis[4].measurements[0].period",
            "not a period",
        ),
        (
            ("members: [U0DEWI, U0EVAN]", "members: [U0DEWI, nobody@example.com]"),
            "teams[1].members[1]",
            "no Slack user",
        ),
        (("aliases: [nps]\n", "aliasses: [nps]\n"), "kpis[0].aliasses", "unknown field"),
        (
            ("period: 2026-09, value: 6.1", "period: 2026-09, value: 1e26"),
            "kpis[4].measurements[0].value",
            "less than or equal to 1000000000000000",
        ),
    ],
)
async def test_broken_file_names_the_place_and_writes_nothing(
    database: Database, change: tuple[str, str], path: str, reason: str
) -> None:
    text = SEED.read_text()
    assert change[0] in text
    with pytest.raises(ImportFileError) as caught:
        await load(database, text.replace(change[0], change[1], 1), "broken.yaml")
    message = str(caught.value)
    assert f"broken.yaml: {path}" in message
    assert reason in message
    assert await count(database, Objective) == 0
    assert await count(database, KpiMeasurement) == 0


async def test_broken_reimport_leaves_existing_data_untouched(database: Database) -> None:
    await load(database, SEED.read_text())
    before = await export_yaml(database)
    broken = (
        SEED.read_text().replace("current: 74", "current: 90").replace("target: 80", "target: x")
    )
    with pytest.raises(ImportFileError):
        await load(database, broken)
    assert await export_yaml(database) == before


async def test_yaml_syntax_error_names_the_line(database: Database) -> None:
    with pytest.raises(ImportFileError, match=r"bad.yaml: line 2, column \d+: not valid YAML"):
        await load(database, "cycle: {name: Q4\nteams: [", "bad.yaml")


async def test_csv_export_has_a_row_per_key_result_and_measurement(database: Database) -> None:
    await load(database, SEED.read_text())
    text = to_csv(await export_data(database=database, workspace_id=WS))
    lines = text.strip().splitlines()
    assert lines[0].startswith("type,team,objective,id,title")
    nps = next(line for line in lines if "Increase NPS" in line)
    assert ",KR-1," in nps and ",40," in nps
    assert sum(line.startswith("kpi_measurement") for line in lines) == 18


async def test_a_kr_id_used_twice_is_refused(database: Database) -> None:
    text = SEED.read_text()
    for title in ("Increase NPS from 70 to 80", "Reduce average reply time from 6 h to 4 h"):
        text = text.replace(f"      - title: {title}", f"      - id: KR-1\n        title: {title}")
    with pytest.raises(
        ImportFileError, match=r"objectives\[0\]\.key_results\[1\]\.id: KR-1 is used twice"
    ):
        await load(database, text)
    assert await count(database, KeyResult) == 0
