"""Export → import → export of a workspace whose quarter ended (SPEC §8, issue #9): several
cycles, owners' and suggested scores, a closed cycle and its carry links, through the edges
people use (`okrbot import`, `okrbot export`, `okrbot cycle close`, `/okr` over signed HTTP), on
both databases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bot.errors import ImportFileError
from bot.sandbox import TEAM_ID, Sandbox, sandbox
from bot.services.exports import export_data, to_csv, to_yaml
from bot.services.imports import ImportReport, import_file
from storage.db import Database
from storage.models import Cycle, KeyResult, Objective
from tests.support.postgres import PostgresServer
from tests.test_app_http import text_of
from tests.test_cli import okrbot

DATA = Path(__file__).parent / "data"
FILE = DATA / "roundtrip.yaml"
PEOPLE = ("U0CEO", "U0RINA", "U0CAROL", "U0DIAN")
_names = itertools.count()


@pytest.fixture
def fresh_db_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second, empty database of the same kind as `db_url`: a fresh install to import into
    (`okrbot import` migrates it first)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"rt{os.getpid()}_{next(_names)}"
    server.psql(f"CREATE DATABASE {name}")
    return server.url(name)


def run(*args: str, db: str) -> str:
    """An `okrbot` command on workspace T0DEMO (the sandbox's); its stdout, or the test fails
    with its stderr."""
    done = okrbot(*args, "--workspace", TEAM_ID, env={"DATABASE_URL": db})
    assert done.returncode == 0, done.stderr
    return done.stdout


def add_people(box: Sandbox) -> None:
    for user_id in PEOPLE:
        box.standin.add_user(user_id, name=user_id.lower(), locale="en-US")


async def end_the_quarter(db: str) -> None:
    """Carol moves reply time to 5 h and scores it herself; Dian's CSAT reaches 86 and is
    left to the suggestion; then `okrbot cycle close 2026-Q4` carries the unfinished over."""
    async with sandbox(db, migrate=False) as box:
        add_people(box)
        assert "KR-1" in text_of(await box.command("/okr", "update KR-1 5", user_id="U0CAROL"))
        assert "KR-2" in text_of(await box.command("/okr", "update KR-2 86", user_id="U0DIAN"))
        scored = await box.command("/okr", "score KR-1 0.6 canned answers late", user_id="U0CAROL")
        assert "Scored KR-1" in text_of(scored)
    closed = run("cycle", "close", "2026-Q4", "--carry", "unfinished", db=db)
    assert closed == (
        "okrbot: cycle 2026-Q4 closed: 3 key results frozen (1 scored, 2 at the suggested "
        "score); carried over to 2027-Q1: KR-1 → KR-5, KR-2 → KR-6\n"
    )


def key_results(exported: str) -> dict[str, dict]:
    data = yaml.safe_load(exported)
    return {kr["id"]: kr for o in data["objectives"] for kr in o["key_results"]}


async def test_a_closed_quarter_round_trips_byte_for_byte(
    db_url: str, fresh_db_url: str, tmp_path: Path
) -> None:
    run("import", str(FILE), db=db_url)
    await end_the_quarter(db_url)
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    run("export", "--out", str(first), db=db_url)
    exported = first.read_text(encoding="utf-8")

    # What the close froze is in the file.
    q4 = yaml.safe_load(exported)["cycles"][0]
    assert q4["name"] == "2026-Q4" and q4["closed_at"].tzinfo is not None
    krs = key_results(exported)
    assert {n: (kr.get("score"), kr.get("score_suggested")) for n, kr in krs.items()} == {
        "KR-1": (0.6, None),  # Carol's own score
        "KR-2": (0.6, True),  # 86 of 80 → 90, nobody scored it: the suggestion, marked
        "KR-3": (1.0, True),
        "KR-4": (None, None),  # 2027-Q1 is open: no scores, no finals
        "KR-5": (None, None),
        "KR-6": (None, None),
    }
    assert krs["KR-1"]["score_note"] == "canned answers late"
    assert krs["KR-1"]["final_progress"] == pytest.approx(0.5)
    assert {krs[n]["final_status"] for n in ("KR-1", "KR-2", "KR-3")} <= {
        "on_track",
        "at_risk",
        "off_track",
    }
    assert "final_progress" not in krs["KR-5"] and "closed_at" not in krs["KR-5"]
    assert (krs["KR-5"]["carried_from"], krs["KR-6"]["carried_from"]) == ("KR-1", "KR-2")
    assert (krs["KR-5"]["start"], krs["KR-5"]["current"]) == (5, 5)
    # The open initiative came along (at the position it had: 1, after the done one).
    assert krs["KR-5"]["initiatives"] == [
        {"title": "Canned answers", "owner": "U0CAROL", "status": "in_progress"}
    ]
    assert "carried_from" not in krs["KR-4"]
    objectives = yaml.safe_load(exported)["objectives"]
    # Answer customers faster: the mean of 0.6, 0.6 and 1.0; Acme's objective rolls it up.
    assert objectives[1]["score"] == pytest.approx((0.6 + 0.6 + 1.0) / 3)
    assert objectives[0]["score"] == objectives[1]["score"]
    assert objectives[0]["final_progress"] == objectives[1]["final_progress"]

    # A fresh install reads it back to the same state: the same file, byte for byte.
    imported = run("import", str(first), db=fresh_db_url)
    assert imported.startswith("okrbot: imported 2 cycles, 2 teams with 4 members, ")
    assert "6 key results" in imported
    run("export", "--out", str(second), db=fresh_db_url)
    assert second.read_text(encoding="utf-8") == exported

    # The same file into the same workspace changes nothing (no second carried KR).
    again = run("import", str(first), db=db_url)
    assert again == "okrbot: nothing to change; the database already matches the file\n"
    assert run("export", db=db_url) == exported

    # In the new install a closed KR still refuses updates and names where its work went on.
    async with sandbox(fresh_db_url, migrate=False) as box:
        add_people(box)
        refused = text_of(await box.command("/okr", "update KR-1 4.5", user_id="U0CAROL"))
        assert "KR-1 is closed with cycle 2026-Q4; it carries on as KR-5: update that one." in (
            refused
        )
        moved = text_of(await box.command("/okr", "update reply 4.5", user_id="U0CAROL"))
        assert "KR-5" in moved
    assert key_results(run("export", db=fresh_db_url))["KR-5"]["current"] == 4.5
    assert key_results(run("export", db=fresh_db_url))["KR-1"]["current"] == 5


CLOSED = DATA / "closed_quarter.yaml"
TODAY = dt.date(2026, 11, 16)


async def load(database: Database, text: str) -> ImportReport:
    return await import_file(
        database=database, workspace_id=TEAM_ID, text=text, filename="q3.yaml", today=TODAY
    )


async def export_yaml(database: Database) -> str:
    return to_yaml(await export_data(database=database, workspace_id=TEAM_ID))


async def test_a_hand_written_closed_quarter_imports_as_closed(database: Database) -> None:
    report = await load(database, CLOSED.read_text(encoding="utf-8"))
    assert report.created["key_result"] == 4
    async with database.read() as session:
        q3 = (await session.exec(select(Cycle).where(Cycle.name == "2026-Q3"))).one()
        krs = {kr.number: kr for kr in (await session.exec(select(KeyResult))).all()}
        objective = (await session.exec(select(Objective).where(Objective.cycle_id == q3.id))).one()
    assert q3.closed_at is not None and krs[1].closed_at is not None
    assert (krs[1].score, krs[1].score_note, krs[1].score_suggested) == (
        0.6,
        "canned answers late",
        False,
    )
    assert (krs[2].score, krs[2].score_suggested, krs[2].final_status) == (0.5, True, "at_risk")
    assert (krs[3].carried_from_id, krs[4].carried_from_id) == (krs[1].id, krs[2].id)
    assert (krs[3].closed_at, krs[4].score, krs[4].score_note) == (None, 0.7, "on the way")
    assert (objective.final_progress, objective.final_status, objective.score) == (
        0.5,
        "off_track",
        0.55,
    )
    exported = await export_yaml(database)
    assert not (await load(database, exported)).changed
    assert not (await load(database, CLOSED.read_text(encoding="utf-8"))).changed
    assert await export_yaml(database) == exported


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            ("score: 0.6,", "score: 1.3,"),
            "objectives[0].key_results[0].score",
            "a score is from 0 to 1, not 1.3",
        ),
        (
            ("score: 0.55", "score: -0.1"),
            "objectives[0].score",
            "a score is from 0 to 1, not -0.1",
        ),
        (
            ("carried_from: KR-1}", "carried_from: KR-9}"),
            "objectives[1].key_results[0].carried_from",
            "unknown key result KR-9 (name one by its id in this file)",
        ),
        (
            ("late, final", "late, carried_from: KR-3, final"),
            "objectives[0].key_results[0].carried_from",
            "KR-3 is of cycle 2026-Q4, which does not come before 2026-Q3: a key result "
            "carries over from an earlier cycle",
        ),
        (
            ("carried_from: KR-2}", "carried_from: KR-1}"),
            "objectives[1].key_results[1].carried_from",
            "KR-1 is carried over twice (also at objectives[1].key_results[0].carried_from)",
        ),
        (
            ("score_suggested: true, final_progress: 0.5, final_status: at_risk}", "}"),
            "objectives[0].key_results[1]",
            "cycle 2026-Q3 is closed: a key result of it needs its final_progress and final_status",
        ),
        (
            ("score: 0.7, score_note: on the way,", "final_status: on_track,"),
            "objectives[1].key_results[1].final_status",
            "cycle 2026-Q4 is not closed: only a closed cycle's key results and objectives "
            "have final values",
        ),
        (
            ("closed_at: 2026-10-02 09:30:00+00:00", "closed_at: 2026-06-30 09:30:00+00:00"),
            "cycles[0].closed_at",
            "a cycle cannot close before it starts",
        ),
        (
            ("closed_at: 2026-10-02 09:30:00+00:00", "closed_at: 2026-10-02 09:30:00"),
            "cycles[0].closed_at",
            "input should have timezone info",
        ),
        (
            ("final_status: at_risk}", "final_status: sideways}"),
            "objectives[0].key_results[1].final_status",
            "input should be 'on_track', 'at_risk' or 'off_track'",
        ),
        (
            ("score: 0.5, score_suggested", "score_suggested"),
            "objectives[0].key_results[1]",
            "score_note and score_suggested go with a score",
        ),
    ],
)
async def test_a_bad_end_of_cycle_is_refused_with_its_path_and_nothing_is_written(
    database: Database, change: tuple[str, str], path: str, reason: str
) -> None:
    text = CLOSED.read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(ImportFileError) as caught:
        await load(database, text.replace(change[0], change[1], 1))
    assert f"q3.yaml: {path}: {reason}" in str(caught.value)
    async with database.read() as session:
        assert (await session.exec(select(Cycle))).all() == []


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (  # a closed KR's value moved
            ("current: 5, unit: h, score: 0.6", "current: 5.5, unit: h, score: 0.6"),
            "objectives[0].key_results[0].current",
            "KR-1 is closed with cycle 2026-Q3: it keeps its current (5.0), not 5.5",
        ),
        (  # its score replaced
            ("score: 0.6,", "score: 0.9,"),
            "objectives[0].key_results[0].score",
            "KR-1 is closed with cycle 2026-Q3: it keeps its score (0.6), not 0.9",
        ),
        (  # a closed KR's initiative moved on
            ("status: in_progress}]", "status: done}]"),
            "objectives[0].key_results[0].initiatives[0]",
            "KR-1 is closed: its initiatives stay as its cycle left them",
        ),
        (  # a KR added to the closed quarter without its end (the file silent on the close)
            (
                "    key_results:\n      - {id: KR-1,",
                "    key_results:\n      - {title: Late idea, start: 0, target: 1}\n"
                "      - {id: KR-1,",
            ),
            "objectives[0].key_results[0]",
            "cycle 2026-Q3 is closed: a key result of it needs its final_progress, final_status "
            "and score",
        ),
        (  # an open quarter closed by a file, not by `okrbot cycle close`
            (
                "{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}",
                "{name: 2026-Q4, start: 2026-10-01, end: 2026-12-31, closed_at: 2026-11-02T10:00Z}",
            ),
            "cycles[1].closed_at",
            "cycle 2026-Q4 is open here: close it with okrbot cycle close, which freezes and "
            "carries over (an import closes only a cycle it creates)",
        ),
    ],
)
async def test_what_a_close_froze_is_not_changed_by_a_later_import(
    database: Database, change: tuple[str, str], path: str, reason: str
) -> None:
    text = CLOSED.read_text(encoding="utf-8")
    await load(database, text)
    before = await export_yaml(database)
    if "Late idea" in change[1]:
        text = text.replace("closed_at: 2026-10-02 09:30:00+00:00", "scoring_days: 7")
    assert change[0] in text
    with pytest.raises(ImportFileError) as caught:
        await load(database, text.replace(change[0], change[1], 1))
    assert f"q3.yaml: {path}: {reason}" in str(caught.value)
    assert await export_yaml(database) == before


async def test_a_closed_kr_is_not_moved_into_another_cycle_by_its_id(database: Database) -> None:
    await load(database, CLOSED.read_text(encoding="utf-8"))
    before = await export_yaml(database)
    moving = (
        "cycle: {name: 2026-Q4, start: 2026-10-01, end: 2026-12-31}\n"
        "objectives:\n"
        "  - title: Answer customers faster\n"
        "    team: Support\n"
        "    key_results: [{id: KR-1, title: Cut reply time, start: 5, target: 4}]\n"
    )
    with pytest.raises(ImportFileError) as caught:
        await load(database, moving)
    assert (
        "q3.yaml: objectives[0].key_results[0].id: KR-1 is closed with its cycle: it stays "
        "under its objective" in str(caught.value)
    )
    assert await export_yaml(database) == before


def test_okrbot_import_refuses_a_bad_score_naming_its_place(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CLOSED.read_text(encoding="utf-8").replace("score: 0.6,", "score: 60,"))
    refused = okrbot("import", str(bad), "--workspace", TEAM_ID, env={"DATABASE_URL": db_url})
    assert refused.returncode == 2
    assert f"{bad}: objectives[0].key_results[0].score: a score is from 0 to 1, not 60" in (
        refused.stderr
    )
    assert "objectives: []" in run("export", db=db_url)


async def test_csv_export_has_scores_and_carry_links(database: Database) -> None:
    await load(database, CLOSED.read_text(encoding="utf-8"))
    text = to_csv(await export_data(database=database, workspace_id=TEAM_ID))
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text)) if row["id"]}
    columns = ("score", "score_suggested", "score_note", "carried_from")
    assert {number: tuple(row[c] for c in columns) for number, row in rows.items()} == {
        "KR-1": ("0.6", "", "canned answers late", ""),
        "KR-2": ("0.5", "true", "", ""),
        "KR-3": ("", "", "", "KR-1"),
        "KR-4": ("0.7", "", "on the way", "KR-2"),
    }
    # The columns before them are where spreadsheets built on the export expect them.
    assert text.splitlines()[0].startswith("type,team,objective,id,title,owner,start,target")
