"""API tokens, the rate limiter and KPI history import, below the edges (which test_api.py and
test_api_cli.py drive): what is stored, what is refused, and what each refusal says."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.api.limits import RateLimiter, retry_after
from bot.errors import ImportFileError, InvalidInput, NotFound
from bot.services.kpi_history import import_history, read_history
from bot.services.tokens import (
    LAST_USE_EVERY,
    TokenChecker,
    create_token,
    list_tokens,
    parse_scopes,
    revoke_token,
    split_token,
)
from storage.db import Database
from storage.models import Kpi, Team, Workspace

WS = "T0DEMO"
NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def workspace(database: Database) -> Database:
    async with database.session() as session:
        session.add(Workspace(id=WS))
        await session.flush()
        team = Team(workspace_id=WS, name="Support")
        session.add(team)
        await session.flush()
        session.add(Kpi(workspace_id=WS, team_id=team.id, name="Tickets", target=1000))
        session.add(
            Kpi(workspace_id=WS, team_id=team.id, name="Traffic", target=5, period="weekly")
        )
    return database


def test_scopes_are_checked_and_deduplicated() -> None:
    assert parse_scopes(" read, kpis:write,read ") == ("read", "kpis:write")
    with pytest.raises(InvalidInput, match="not admin, write"):
        parse_scopes("read,admin,write")
    with pytest.raises(InvalidInput, match="not none"):
        parse_scopes(" , ")


def test_only_well_formed_tokens_are_split() -> None:
    good = "okr_0123456789abcdef_" + "A" * 43
    assert split_token(good) == ("0123456789abcdef", "A" * 43)
    assert split_token(good + "x") is None
    assert split_token("xoxb-0123456789abcdef") is None


async def test_names_are_unique_and_well_formed(workspace: Database) -> None:
    await create_token(database=workspace, workspace_id=WS, name="ci", scopes=("read",))
    with pytest.raises(InvalidInput, match="A token named ci already exists"):
        await create_token(database=workspace, workspace_id=WS, name="ci", scopes=("read",))
    with pytest.raises(InvalidInput, match="1 to 64 letters"):
        await create_token(database=workspace, workspace_id=WS, name="a b", scopes=("read",))
    with pytest.raises(NotFound, match="workspace T0NONE"):
        await create_token(database=workspace, workspace_id="T0NONE", name="x", scopes=("read",))
    assert [t.name for t in await list_tokens(database=workspace, workspace_id=WS)] == ["ci"]


async def test_a_wrong_secret_or_a_revoked_token_finds_no_holder(workspace: Database) -> None:
    issued = await create_token(
        database=workspace, workspace_id=WS, name="ci", scopes=("read", "krs:write")
    )
    checker = TokenChecker(workspace)
    holder = await checker.holder(issued.token, NOW)
    assert holder is not None
    assert (holder.workspace_id, holder.source, holder.scopes) == (
        WS,
        "api:ci",
        frozenset({"read", "krs:write"}),
    )
    wrong = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    assert await checker.holder(wrong, NOW) is None  # after the right one was remembered too
    assert await TokenChecker(workspace).holder(wrong, NOW) is None
    await revoke_token(database=workspace, workspace_id=WS, name="ci")
    assert await checker.holder(issued.token, NOW) is None
    with pytest.raises(NotFound):
        await revoke_token(database=workspace, workspace_id=WS, name="ci")


async def test_last_use_is_written_at_most_once_a_minute(workspace: Database) -> None:
    issued = await create_token(database=workspace, workspace_id=WS, name="ci", scopes=("read",))
    checker = TokenChecker(workspace)
    for seconds in (0, 30, 59):
        await checker.holder(issued.token, NOW + dt.timedelta(seconds=seconds))
    (info,) = await list_tokens(database=workspace, workspace_id=WS)
    assert info.last_used_at == NOW
    await checker.holder(issued.token, NOW + LAST_USE_EVERY)
    (info,) = await list_tokens(database=workspace, workspace_id=WS)
    assert info.last_used_at == NOW + LAST_USE_EVERY


def test_the_limiter_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=20, clock=lambda: now[0])
    assert [limiter.wait("a") for _ in range(20)] == [0.0] * 20
    assert limiter.wait("a") == pytest.approx(0.1)
    assert limiter.wait("b") == 0.0  # every token has its own bucket
    now[0] = 0.25  # 2.5 requests' worth came back
    assert [limiter.wait("a") > 0 for _ in range(3)] == [False, False, True]
    assert retry_after(0.1) == "1" and retry_after(2.01) == "3"


def test_the_limiter_forgets_refilled_buckets() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=20, clock=lambda: now[0], kept=3)
    for key in "abc":
        limiter.wait(key)
    now[0] = 1.0  # a full bucket takes 20 / 10 = 2 s to refill: none is full yet
    limiter.wait("d")
    assert len(limiter._buckets) == 4
    now[0] = 3.0
    limiter.wait("e")
    assert set(limiter._buckets) == {"e"}


def test_history_lines_are_read_with_their_line_numbers() -> None:
    lines = read_history("kpi,period,value,note\n\nTickets,2026-10,12.5,ok\n", "h.csv")
    assert [(line.line, line.kpi, line.value, line.note) for line in lines] == [
        (3, "Tickets", 12.5, "ok")
    ]
    with pytest.raises(ImportFileError) as caught:
        read_history("Tickets,2026-10,inf\nTickets,2026-10,1," + "x" * 3001 + "\n,2026-10,1\n", "h")
    assert [str(p) for p in caught.value.problems] == [
        "line 1: value 'inf' is not a finite number",
        "line 2: the note is longer than 3000 characters",
        "line 3: the KPI's name is empty",
    ]
    with pytest.raises(ImportFileError, match="no measurements in the file"):
        read_history("kpi,period,value\n", "h.csv")


async def test_history_import_is_idempotent_and_all_or_nothing(workspace: Database) -> None:
    text = "Tickets,2026-09,1300\ntickets,2026-10,1250\nTraffic,2026-W40,4\n"
    first = await import_history(database=workspace, workspace_id=WS, text=text, filename="h")
    again = await import_history(database=workspace, workspace_id=WS, text=text, filename="h")
    assert (first.added, first.unchanged, again.added, again.unchanged) == (3, 0, 0, 3)
    misfit = "Tickets,2026-11,1\nNobody,2026-11,1\nTraffic,2026-11,1\n"
    with pytest.raises(ImportFileError) as caught:
        await import_history(database=workspace, workspace_id=WS, text=misfit, filename="m.csv")
    assert str(caught.value).splitlines() == [
        "m.csv: line 2: no KPI called 'Nobody'",
        "m.csv: line 3: Traffic is measured weekly: write periods like 2026-W47",
    ]
    after = await import_history(database=workspace, workspace_id=WS, text=text, filename="h")
    assert after.added == 0  # line 1 of the refused file was not kept either
    check = await import_history(
        database=workspace, workspace_id=WS, text="Tickets,2026-11,1\n", filename="h"
    )
    assert check.added == 1
