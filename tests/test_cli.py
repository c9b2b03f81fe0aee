"""`okrbot` as people run it: bad configuration stops with one line and exit status 2;
import/export through the CLI; `okrbot run --http` serving signed requests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.seed import SEED_OKRS, SEED_PEOPLE, seed_people
from bot.standin.sender import SignedSender, load_payload
from bot.standin.server import StandinThread
from tests.conftest import REPO, SHARED

SECRET = "cli-test-secret"


def okrbot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def standin() -> Iterator[StandinThread]:
    with StandinThread() as thread:
        for person in seed_people():
            details = {key: value for key, value in person.items() if key != "id"}
            thread.standin.add_user(person["id"], **details)
        yield thread


def assert_one_line_exit_2(result: subprocess.CompletedProcess, variable: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "INFO" not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"okrbot: {variable}")
    assert "Traceback" not in result.stderr


def test_run_without_bot_token_names_the_variable() -> None:
    assert_one_line_exit_2(okrbot("run"), "SLACK_BOT_TOKEN")


def test_malformed_api_url_names_the_variable() -> None:
    result = okrbot("run", env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "slack.com/api"})
    assert_one_line_exit_2(result, "SLACK_API_URL")


def test_malformed_database_url_names_the_variable() -> None:
    result = okrbot("db", "upgrade", env={"DATABASE_URL": "mysql://db/okr"})
    assert_one_line_exit_2(result, "DATABASE_URL")


def test_unreachable_database_names_the_variable() -> None:
    env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/okrbot"}
    assert_one_line_exit_2(okrbot("db", "upgrade", env=env), "DATABASE_URL")


def test_http_mode_needs_the_signing_secret(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert_one_line_exit_2(okrbot("run", "--http", env=env), "SLACK_SIGNING_SECRET")


def test_import_export_round_trip_through_the_cli(
    db_url: str, standin: StandinThread, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": standin.api_url}
    first = okrbot("import", str(SEED_OKRS), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        "okrbot: imported 2 cycles, 5 teams with 12 members, 4 objectives, 5 key results, "
        "2 initiatives, 7 KPIs with 18 values, 9 people\n"
    )
    lookups = [call.params["email"] for call in standin.standin.calls_to("users.lookupByEmail")]
    assert lookups == ["bob@example.com"]
    out1, out2 = tmp_path / "one.yaml", tmp_path / "two.yaml"
    assert okrbot("export", "--out", str(out1), env=env).returncode == 0
    again = okrbot("import", str(out1), env=env)
    assert "nothing to change" in again.stdout, again.stdout + again.stderr
    assert okrbot("export", "--out", str(out2), env=env).returncode == 0
    assert out1.read_text() == out2.read_text()
    csv = okrbot("export", "--format", "csv", env=env)
    assert csv.stdout.startswith("type,team,objective,id,title")


def test_broken_import_leaves_the_database_untouched(
    db_url: str, standin: StandinThread, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": standin.api_url}
    assert okrbot("import", str(SEED_OKRS), env=env).returncode == 0
    before = okrbot("export", env=env).stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        SEED_OKRS.read_text()
        .replace("current: 74", "current: 99")
        .replace("start: 800", "start: lots")
    )
    result = okrbot("import", str(broken), env=env)
    assert result.returncode == 2
    assert (
        f"{broken}: objectives[1].key_results[0].start: input should be a valid number"
        in result.stderr
    )
    assert okrbot("export", env=env).stdout == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_healthy(url: str, process: asyncio.subprocess.Process) -> int:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError(f"okrbot run exited with {process.returncode}")
            try:
                async with session.get(url) as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError("okrbot run never answered /healthz")


async def test_run_http_serves_signed_requests(db_url: str, standin: StandinThread) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "HOST": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--http",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert await _wait_healthy(base + "/healthz", process) == 200
        async with SignedSender(base + "/slack/events", SECRET) as sender:
            good = await sender.url_verification("ch4llenge")
            bad = await sender.tampered(bad_signature=True).url_verification("ch4llenge")
        assert good.status == 200 and "ch4llenge" in good.body
        assert bad.status == 401
    finally:
        if process.returncode is None:
            process.terminate()
        _, errors = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, errors.decode()


def test_seed_people_file_matches_the_seed() -> None:
    assert SEED_PEOPLE.exists()
    assert {"U0ALICE", "U0BOB", "U0MANAGER"} <= {person["id"] for person in seed_people()}


@pytest.mark.skipif(
    not (SHARED / "parser-cases.jsonl").exists(), reason="../shared is not beside the repo"
)
def test_parse_passes_every_public_case() -> None:
    result = okrbot("parse", "--cases", str(SHARED / "parser-cases.jsonl"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.stdout.rstrip().splitlines()[-1].endswith(" passed, 0 failed")


def test_parse_scores_the_projects_own_cases_and_says_how_fast() -> None:
    own = REPO / "tests" / "data" / "reply_cases.jsonl"
    result = okrbot("parse", "--cases", str(own))
    count = len([line for line in own.read_text(encoding="utf-8").splitlines() if line.strip()])
    assert result.returncode == 0, [
        line for line in result.stdout.splitlines() if '"ok": false' in line
    ]
    assert result.stdout.rstrip().splitlines()[-1] == f"{count} passed, 0 failed"
    assert re.fullmatch(
        rf"{count} replies read in [0-9.]+ s: [0-9]+ replies/s", result.stderr.strip()
    )


def test_parse_prints_the_questions_it_would_ask(tmp_path: Path) -> None:
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps(
            [
                {"n": 1, "kind": "kr", "title": "NPS", "aliases": ["nps"], "last": 72},
                {"n": 2, "kind": "kpi", "title": "Reply time", "unit": "h", "last": 5},
            ]
        )
    )
    shown = json.loads(okrbot("parse", "--items", str(items), "4.5").stdout)
    assert shown["updates"] == []
    assert shown["questions"] == [
        {"text": "4.5", "candidates": [{"n": 2, "value": 4.5}, {"n": 1, "value": 4.5}]}
    ]


def test_parse_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    case = {
        "id": "wrong",
        "locale": "en",
        "text": "nps 74",
        "items": [{"n": 1, "kind": "kr", "title": "NPS", "aliases": ["nps"], "last": 70}],
        "expect": {"skip": False, "no_change": False, "updates": [{"n": 1, "value": 75}]},
    }
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(case) + "\n")
    result = okrbot("parse", "--cases", str(cases))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "0 passed, 1 failed"


def test_parse_shows_one_reply(tmp_path: Path) -> None:
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps([{"n": 3, "kind": "kpi", "title": "Tiket", "aliases": ["tiket"], "last": 1180}])
    )
    result = okrbot("parse", "--items", str(items), "--locale", "id", "3: 1.240")
    assert result.returncode == 0
    assert json.loads(result.stdout)["updates"] == [{"n": 3, "value": 1240}]


async def test_run_socket_mode_connects_and_answers(db_url: str, standin: StandinThread) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1-cli",
        "SLACK_API_URL": standin.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(_free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    hub = standin.standin.socket_mode
    try:
        await asyncio.to_thread(standin.run, hub.wait_connected(timeout=30))
        command = load_payload("slash_command") | {
            "command": "/okr",
            "text": "help",
            "user_id": "U0ALICE",
            "team_id": "T0DEMO",
            "response_url": standin.standin.response_url(),
        }
        await asyncio.to_thread(standin.run, hub.send("slash_commands", command))
        # Ready within the budget, the answer rides in the envelope's acknowledgement.
        calls = await asyncio.to_thread(
            standin.run, standin.standin.wait_for("socket_mode.ack", timeout=20)
        )
        assert "/okr status" in str(calls[0].params["payload"])
    finally:
        process.terminate()
        _, errors = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0, errors.decode()


def test_starting_okrbot_does_not_import_matplotlib() -> None:
    """Every command paid ~0.35 s for matplotlib; only drawing a digest's chart needs it."""
    code = "import sys, bot.cli; print(sorted(m for m in sys.modules if m.startswith('matplot')))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "[]\n"
