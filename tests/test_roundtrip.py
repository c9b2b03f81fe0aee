"""Export → import → export of a workspace whose quarter ended (SPEC §8, issue #9): several
cycles, owners' and suggested scores, a closed cycle and its carry links, through the edges
people use (`okrbot import`, `okrbot export`, `okrbot cycle close`, `/okr` over signed HTTP), on
both databases."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import yaml

from bot.sandbox import TEAM_ID, Sandbox, sandbox
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
