"""The HTTP API (SPEC §9) through its real edge: HTTP requests to the running app, with tokens
made by the token service, Slack played by the stand-in. Both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.api.openapi import document
from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed, seed_okrs
from bot.services.imports import import_file
from bot.services.tokens import create_token, list_tokens, revoke_token, split_token
from storage.models import ApiToken, KeyResult, Kpi, KpiMeasurement, KrUpdate
from tests.conftest import REPO

NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)
WS = "T0DEMO"
OTHER = "T0OTHER"
PROBLEM = "application/problem+json"


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def token(box: Sandbox, scopes: str, name: str = "ci", workspace: str = WS) -> str:
    issued = await create_token(
        database=box.database,
        workspace_id=workspace,
        name=name,
        scopes=tuple(scopes.split(",")),
    )
    return issued.token


async def call(
    box: Sandbox,
    method: str,
    path: str,
    secret: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    sent = dict(headers or {})
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    data = body if isinstance(body, str) else None
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            box.url + "/api/v1" + path,
            json=None if data is not None else body,
            data=data,
            headers=sent,
        ) as response,
    ):
        payload = await response.json(content_type=None)
        return response.status, payload, response.headers


async def count(box: Sandbox, model: type, *where: Any) -> int:
    async with box.database.read() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def kpi_id(box: Sandbox, name: str, workspace: str = WS) -> int:
    async with box.database.read() as session:
        query = select(Kpi.id).where(Kpi.name == name, Kpi.workspace_id == workspace)
        return (await session.exec(query)).one()


async def kr(box: Sandbox, number: int, workspace: str = WS) -> KeyResult:
    async with box.database.read() as session:
        query = select(KeyResult).where(
            KeyResult.number == number, KeyResult.workspace_id == workspace
        )
        return (await session.exec(query)).one()


def alerts_to(box: Sandbox, channel: str) -> list[dict]:
    return [
        c.params
        for c in box.standin.calls_to("chat.postMessage")
        if c.params.get("channel") == channel
    ]


async def test_token_lifecycle_use_then_revoke_gives_401(box: Sandbox) -> None:
    secret = await token(box, "read")
    status, body, _ = await call(box, "GET", "/teams", secret)
    assert status == 200
    assert [team["name"] for team in body["teams"]] == [
        "Acme",
        "Customer Success",
        "Marketing",
        "Sales",
        "Support",
    ]
    (info,) = await list_tokens(database=box.database, workspace_id=WS)
    assert info.last_used_at == NOW and info.scopes == ("read",)

    await revoke_token(database=box.database, workspace_id=WS, name="ci")
    status, body, headers = await call(box, "GET", "/teams", secret)
    assert status == 401 and headers["Content-Type"].startswith(PROBLEM)
    assert body["type"] == "urn:okrbot:problem:unauthorized" and body["status"] == 401
    assert headers["WWW-Authenticate"] == "Bearer"


async def test_only_a_hash_of_the_token_is_stored(box: Sandbox) -> None:
    secret = await token(box, "read")
    async with box.database.read() as session:
        row = (await session.exec(select(ApiToken))).one()
    stored = " ".join(str(value) for value in row.model_dump().values())
    parts = split_token(secret)
    assert parts is not None
    public_id, plain = parts  # the secret itself may hold "_" or "-"
    assert plain not in stored
    assert len(row.secret_hash) == 64 and row.public_id == public_id


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer okr_0123456789abcdef_" + "x" * 43]
)
async def test_a_missing_or_wrong_token_gets_401(box: Sandbox, header: str | None) -> None:
    await token(box, "read")
    headers = {"Authorization": header} if header else {}
    status, body, _ = await call(box, "GET", "/kpis", None, headers=headers)
    assert status == 401 and body["title"] == "Missing, wrong or revoked token"


async def test_a_missing_scope_gets_403_and_stores_nothing(box: Sandbox) -> None:
    reader = await token(box, "read", name="reader")
    writer = await token(box, "kpis:write", name="writer")
    before = await count(box, KpiMeasurement)
    status, body, _ = await call(
        box, "POST", "/kpis/Net promoter score/measurements", reader, {"value": 60}
    )
    assert status == 403 and "kpis:write" in body["detail"]
    status, body, _ = await call(box, "POST", "/key-results/KR-1/updates", writer, {"value": 60})
    assert status == 403 and "krs:write" in body["detail"]
    status, _, _ = await call(box, "GET", "/teams", writer)
    assert status == 403
    assert await count(box, KpiMeasurement) == before
    assert (await kr(box, 1)).current == 74


async def test_a_pushed_kpi_value_moves_its_kr_and_alerts_once(box: Sandbox) -> None:
    secret = await token(box, "kpis:write", name="helpdesk")
    status, body, _ = await call(
        box,
        "POST",
        "/kpis/Net promoter score/measurements",
        secret,
        {"value": 69, "period": "2026-11", "note": "survey"},
    )
    assert status == 200, body  # the seed already had 2026-11: replaced
    assert body["replaced"] is True and body["previous"] == 74 and body["status"] == "off"
    assert body["key_results"] == [
        {"id": "KR-1", "previous": 74.0, "value": 69.0, "progress": -0.1, "status": "off_track"}
    ]
    assert (await kr(box, 1)).current == 69
    async with box.database.read() as session:
        measurement = (
            await session.exec(select(KpiMeasurement).order_by(KpiMeasurement.id.desc()))
        ).first()
        history = (await session.exec(select(KrUpdate).order_by(KrUpdate.id.desc()))).first()
    assert (measurement.source, measurement.author_id, measurement.note) == (
        "api:helpdesk",
        None,
        "survey",
    )
    assert (history.source, history.new_value) == ("kpi", 69)
    (alert,) = await box.standin.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == "C0CS"
    )
    assert "Net promoter score is off target" in alert.params["text"]

    status, body, _ = await call(
        box,
        "POST",
        f"/kpis/{await kpi_id(box, 'Net promoter score')}/measurements",
        secret,
        {"value": 68, "period": "2026-12"},
    )
    assert status == 201 and body["replaced"] is False
    await box.services.drain()
    assert len(alerts_to(box, "C0CS")) == 1  # still off: no second alert


async def test_the_same_idempotency_key_stores_one_measurement(box: Sandbox) -> None:
    secret = await token(box, "kpis:write")
    before = await count(box, KpiMeasurement)
    path, body = "/kpis/tickets/measurements", {"value": 1250, "period": "2026-12"}
    key = {"Idempotency-Key": "push-2026-12"}
    first = await call(box, "POST", path, secret, body, key)
    second = await call(box, "POST", path, secret, body, key)
    assert first[0] == second[0] == 201
    assert first[1] == second[1]
    assert await count(box, KpiMeasurement) == before + 1

    status, problem, _ = await call(box, "POST", path, secret, {"value": 1}, key)
    assert status == 409 and problem["type"] == "urn:okrbot:problem:conflict"
    assert problem["errors"][0]["path"] == "Idempotency-Key"
    status, problem, _ = await call(box, "POST", path, secret, body, {"Idempotency-Key": "k" * 256})
    assert status == 422 and problem["errors"][0]["path"] == "Idempotency-Key"
    assert await count(box, KpiMeasurement) == before + 1


async def test_concurrent_requests_with_one_key_store_once(box: Sandbox) -> None:
    secret = await token(box, "kpis:write")
    before = await count(box, KpiMeasurement)
    path, body = "/kpis/tickets/measurements", {"value": 990, "period": "2026-12"}
    answers = await asyncio.gather(
        *[call(box, "POST", path, secret, body, {"Idempotency-Key": "same"}) for _ in range(5)]
    )
    assert {status for status, _, _ in answers} == {201}
    assert await count(box, KpiMeasurement) == before + 1


async def test_invalid_fields_are_each_named_and_nothing_is_stored(box: Sandbox) -> None:
    secret = await token(box, "kpis:write,krs:write")
    before = (await count(box, KpiMeasurement), await count(box, KrUpdate))
    status, body, headers = await call(
        box,
        "POST",
        "/kpis/tickets/measurements",
        secret,
        {"value": "lots", "period": "2026-13", "colour": "red"},
    )
    assert status == 422 and headers["Content-Type"].startswith(PROBLEM)
    assert {error["path"] for error in body["errors"]} == {"value", "period", "colour"}
    assert body["title"] == "Invalid request" and body["type"] == "urn:okrbot:problem:invalid"

    status, body, _ = await call(
        box, "POST", "/kpis/tickets/measurements", secret, {"value": 1, "period": "2026-W47"}
    )
    assert status == 422 and body["errors"][0]["path"] == "period"
    assert "monthly" in body["errors"][0]["message"]

    status, body, _ = await call(
        box, "POST", "/key-results/KR-1/updates", secret, {"confidence": 11, "status": "great"}
    )
    assert status == 422 and {e["path"] for e in body["errors"]} == {"confidence", "status"}
    status, body, _ = await call(box, "POST", "/key-results/KR-1/updates", secret, {})
    assert status == 422

    # Far beyond any KPI: refused before it could break a summary's number formatting.
    status, body, _ = await call(
        box, "POST", "/kpis/tickets/measurements", secret, {"value": 1e300}
    )
    assert status == 422 and body["errors"][0]["path"] == "value"

    status, body, _ = await call(box, "POST", "/kpis/tickets/measurements", secret, "not json")
    assert status == 400 and body["title"] == "Malformed request"
    status, body, _ = await call(
        box, "POST", "/kpis/nothing-like-it/measurements", secret, {"value": 1}
    )
    assert status == 404
    assert (await count(box, KpiMeasurement), await count(box, KrUpdate)) == before


async def test_a_kr_update_is_recorded_like_one_from_slack(box: Sandbox) -> None:
    secret = await token(box, "krs:write", name="jira")
    status, body, _ = await call(
        box,
        "POST",
        "/key-results/nps/updates",
        secret,
        {"value": 77, "confidence": 8.0, "status": "at_risk", "note": "chat vendor late"},
    )
    assert status == 201, body
    assert body == {
        "id": "KR-1",
        "title": "Increase NPS from 70 to 80",
        "previous": 74.0,
        "value": 77.0,
        "progress": 0.7,
        "status": "at_risk",
        "confidence": 8,
    }
    found = await kr(box, 1)
    assert (found.current, found.confidence, found.status) == (77, 8, "at_risk")
    async with box.database.read() as session:
        row = (await session.exec(select(KrUpdate).order_by(KrUpdate.id.desc()))).first()
    assert (row.source, row.note, row.old_value) == ("api:jira", "chat vendor late", 74)
    # `/okr history` shows where it came from.
    call_ = await box.command("/okr", "history KR-1", user_id="U0ALICE")
    assert "api:jira" in str(call_.params)


async def test_reads_team_status_and_kpis(box: Sandbox) -> None:
    secret = await token(box, "read")
    status, body, _ = await call(box, "GET", "/teams/customer success/status", secret)
    assert status == 200
    assert body["team"] == "Customer Success" and body["cycle"] == "2026-Q4"
    assert 0.49 < body["expected_progress"] < 0.51
    (objective,) = body["objectives"]
    nps = objective["key_results"][0]
    assert (nps["id"], nps["progress"], nps["current"]) == ("KR-1", pytest.approx(0.4), 74)
    status, same, _ = await call(box, "GET", "/teams/customer success/status?cycle=2026-Q4", secret)
    assert (status, same) == (200, body)
    status, _, _ = await call(box, "GET", "/teams/customer success/status?cycle=1999-Q1", secret)
    assert status == 404

    status, body, _ = await call(box, "GET", "/kpis?team=Support", secret)
    assert status == 200
    tickets = next(k for k in body["kpis"] if k["name"] == "Tickets per month")
    assert tickets["latest"] == {"period": "2026-11", "value": 1180}
    assert (tickets["status"], tickets["trend"], tickets["team"]) == (
        "warn",
        "improving",
        "Support",
    )
    assert {k["team"] for k in body["kpis"]} == {"Support"}
    status, body, _ = await call(box, "GET", "/kpis", secret)
    assert len(body["kpis"]) == 7


async def test_a_workspaces_token_never_reaches_another_workspace(box: Sandbox) -> None:
    await import_file(
        database=box.database,
        workspace_id=OTHER,
        text=seed_okrs().replace("bob@example.com", "U0BOB"),
        filename="other.yaml",
    )
    mine = await token(box, "read,kpis:write,krs:write", name="other", workspace=OTHER)
    theirs_kpi = await kpi_id(box, "Net promoter score", WS)
    theirs_team = (await kr(box, 1, WS)).objective_id
    before = await count(box, KpiMeasurement, KpiMeasurement.workspace_id == WS)

    status, body, _ = await call(box, "GET", "/teams", mine)
    ids = {team["id"] for team in body["teams"]}
    status, ws_teams, _ = await call(box, "GET", "/teams", await token(box, "read", "r"))
    assert ids.isdisjoint({team["id"] for team in ws_teams["teams"]})
    for team_id in {team["id"] for team in ws_teams["teams"]} | {theirs_team}:
        status, _, _ = await call(box, "GET", f"/teams/{team_id}/status", mine)
        assert status == 404
    status, _, _ = await call(box, "POST", f"/kpis/{theirs_kpi}/measurements", mine, {"value": 1})
    assert status == 404

    status, body, _ = await call(box, "POST", "/key-results/KR-1/updates", mine, {"value": 71})
    assert status == 201
    assert (await kr(box, 1, OTHER)).current == 71 and (await kr(box, 1, WS)).current == 74
    status, body, _ = await call(box, "GET", "/kpis", mine)
    assert {kpi["id"] for kpi in body["kpis"]}.isdisjoint({theirs_kpi})
    assert await count(box, KpiMeasurement, KpiMeasurement.workspace_id == WS) == before


async def test_more_than_the_rate_gets_429_with_retry_after(db_url: str) -> None:
    limits = {"okrbot_api_rate": 0.5, "okrbot_api_burst": 3}
    async with sandbox(db_url, clock=lambda: NOW, migrate=False, overrides=limits) as box:
        await load_seed(box)
        secret = await token(box, "read")
        answers = [await call(box, "GET", "/teams", secret) for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    _, body, headers = answers[-1]
    assert headers["Retry-After"] == "2" and body["status"] == 429


def test_the_readme_and_the_ci_example_use_documented_operations() -> None:
    """Every API path the README's curl lines and the CI example call is in the document."""
    templates = [
        re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$") for path in document()["paths"]
    ]
    text = (REPO / "README.md").read_text() + (REPO / "examples" / "ci-push-kpi.yml").read_text()
    called = set(re.findall(r"(?:\$API|/api/v1)(/[^\s\"'?`)]+)", text)) - {"/openapi.json"}
    assert len(called) >= 5
    for path in called:
        assert any(t.match(path) for t in templates), path


async def test_unknown_paths_and_methods_are_problems_too(box: Sandbox) -> None:
    secret = await token(box, "read")
    status, body, headers = await call(box, "GET", "/nothing-here", secret)
    assert (status, body["type"]) == (404, "urn:okrbot:problem:not-found")
    status, body, headers = await call(box, "DELETE", "/teams", secret)
    assert (status, body["status"]) == (405, 405)
    assert "GET" in headers["Allow"]
    status, body, _ = await call(box, "GET", "/openapi.json", None)
    assert status == 200 and body["openapi"] == "3.1.0"
    assert set(body["paths"]) == {
        "/teams",
        "/teams/{team}/status",
        "/kpis",
        "/kpis/{kpi}/measurements",
        "/key-results/{kr}/updates",
    }
