"""The API as an operator runs it: `okrbot token …` and `okrbot kpi import` on the command line,
`okrbot run --http` serving `/api/v1`, and schemathesis fuzzing the live server over its own
OpenAPI document. Both databases."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.seed import SEED_OKRS
from bot.services.imports import import_file
from bot.standin.server import StandinThread
from storage.db import Database
from storage.models import Kpi, KpiMeasurement, KrUpdate
from tests.conftest import REPO

HERE = Path(__file__).parent
WS = "T0DEMO"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def okrbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def request(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    sent = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass
class Live:
    env: dict[str, str]
    url: str


async def _seed(url: str) -> None:
    # In process (the CLI's own import is tested in test_cli.py): each `okrbot` run costs
    # seconds of imports on a busy machine.
    database = Database.connect(url)
    try:
        text = SEED_OKRS.read_text().replace("bob@example.com", "U0BOB")
        await import_file(database=database, workspace_id=WS, text=text, filename="seed.yaml")
    finally:
        await database.dispose()


@pytest.fixture
def seeded(db_url: str) -> Iterator[dict[str, str]]:
    """The seed in the database, a Slack stand-in, and the environment to run `okrbot` in."""
    asyncio.run(_seed(db_url))
    with StandinThread() as standin:
        yield {
            "DATABASE_URL": db_url,
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "api-cli-secret",
            "SLACK_API_URL": standin.api_url,
            "HOST": "127.0.0.1",
        }


@pytest.fixture
def live(seeded: dict[str, str]) -> Iterator[Live]:
    """`okrbot run --http` on a free port, serving the seeded database."""
    env = {
        **seeded,
        "PORT": str(_free_port()),
        "OKRBOT_API_RATE": "1000",
        "OKRBOT_API_BURST": "1000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--http"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        _wait_healthy(url, process)
        yield Live(env, url)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"okrbot run exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("okrbot run never answered /healthz")


def test_token_lifecycle_on_the_command_line(live: Live) -> None:
    created = okrbot("token", "create", "--name", "ci", "--scope", "read,kpis:write", env=live.env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("okr_") and "\n" not in secret  # stdout is the token alone
    assert "shown only now" in created.stderr

    status, body = request(
        live.url + "/api/v1/kpis/tickets/measurements", secret, {"value": 990, "period": "2027-01"}
    )
    assert status == 201 and body["status"] == "ok"
    status, body = request(live.url + "/api/v1/key-results/KR-1/updates", secret, {"value": 1})
    assert status == 403 and "krs:write" in body["detail"]

    revoked = okrbot("token", "revoke", "ci", env=live.env)
    assert revoked.stdout == "okrbot: token ci revoked\n"
    status, body = request(live.url + "/api/v1/teams", secret)
    assert status == 401 and body["status"] == 401
    listed = okrbot("token", "list", env=live.env).stdout
    assert listed.startswith("ci  read,kpis:write  last used ") and " revoked " in listed


def test_a_bad_token_request_is_one_line_and_exit_2(seeded: dict[str, str]) -> None:
    result = okrbot("token", "create", "--name", "ci", "--scope", "read,admin", env=seeded)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "okrbot: Scopes must be some of read, kpis:write, krs:write; not admin.\n"
    )


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is a dev dependency")
def test_schemathesis_finds_nothing_wrong_with_any_operation(live: Live) -> None:
    """Every operation, positive and negative data, every check: no 5xx, every answer as the
    document says. Bounded so the run takes seconds, not minutes."""
    created = okrbot(
        "token", "create", "--name", "fuzz", "--scope", "read,kpis:write,krs:write", env=live.env
    )
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(HERE / "data" / "schemathesis.toml"),
            "--no-color",
            "run",
            live.url + "/api/v1/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            "20",
            "--header",
            f"Authorization: Bearer {created.stdout.strip()}",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:]
    # A warning (a heuristic about how often data was refused) is not a failure: the last line
    # reads "No issues found" or "N warning(s)", never "failure" or "error".
    last = result.stdout.strip().splitlines()[-1]
    assert "failure" not in last and "error" not in last, result.stdout[-4000:]
    assert "No issues found" in last or "warning" in last, result.stdout[-4000:]
    assert "5 selected / 5 total" in result.stdout
    # The fuzzer got through to the writes, not only to their refusals.
    assert asyncio.run(_written_by(live.env["DATABASE_URL"], "api:fuzz")) >= (1, 1)


async def _written_by(url: str, source: str) -> tuple[int, int]:
    database = Database.connect(url)
    try:
        async with database.read() as session:
            counts = [
                (await session.exec(select(func.count()).where(model.source == source))).one()
                for model in (KpiMeasurement, KrUpdate)
            ]
    finally:
        await database.dispose()
    return counts[0], counts[1]


def test_kpi_history_import_all_or_nothing(seeded: dict[str, str], tmp_path: Path) -> None:
    url = seeded["DATABASE_URL"]
    good = tmp_path / "history.csv"
    good.write_text(
        "kpi,period,value,note\n"
        "Tickets per month,2026-06,1400,\n"
        "tickets,2026-07,1350,summer\n"
        "Web traffic,2026-W40,41000\n"
        "Tickets per month,2026-11,1180\n"  # already the standing value
    )
    first = okrbot("kpi", "import", str(good), env=seeded)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "okrbot: 3 measurements imported, 1 already there\n"
    history = asyncio.run(_history(url))
    assert {
        ("Tickets per month", "2026-06", 1400.0, None),
        ("Tickets per month", "2026-07", 1350.0, "summer"),
        ("Web traffic", "2026-W40", 41000.0, None),
    } <= set(history)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Tickets per month,2026-08,1300\n"
        "Tickets per month,2026-13,1\n"
        "Nobody's KPI,2026-08,1\n"
        "Web traffic,2026-08,1\n"
        "tickets,2026-09,lots\n"
        "tickets,2026-09\n"
    )
    result = okrbot("kpi", "import", str(bad), env=seeded)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}: line 2: period '2026-13' is neither like 2026-11 nor like 2026-W47",
        f"{bad}: line 5: value 'lots' is not a number (write 1180.5, without separators)",
        f"{bad}: line 6: expected kpi,period,value[,note], found 2 fields",
        "okrbot: nothing was imported",
    ]
    assert asyncio.run(_history(url)) == history


async def _history(url: str) -> list[tuple[str, str, float, str | None]]:
    database = Database.connect(url)
    try:
        async with database.read() as session:
            rows = await session.exec(
                select(Kpi.name, KpiMeasurement.period, KpiMeasurement.value, KpiMeasurement.note)
                .join(Kpi, Kpi.id == KpiMeasurement.kpi_id)
                .order_by(KpiMeasurement.id)
            )
            return [tuple(row) for row in rows.all()]
    finally:
        await database.dispose()
