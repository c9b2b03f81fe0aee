"""`okrbot digest send --team NAME` against the Slack stand-in: sends now, and only once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.seed import seed_okrs
from bot.services.imports import import_file
from bot.standin.server import StandinThread
from storage.db import Database
from tests.test_cli import okrbot, standin  # noqa: F401 - `standin` is the fixture used below


async def seed(db_url: str, workspace_id: str) -> None:
    async def resolve(email: str) -> str | None:
        return "U0BOB"

    database = Database.connect(db_url)
    try:
        await import_file(
            database=database,
            workspace_id=workspace_id,
            text=seed_okrs(),
            filename="okrs.yaml",
            resolve_email=resolve,
        )
    finally:
        await database.dispose()


def test_digest_send_sends_now_and_only_once(db_url: str, standin: StandinThread) -> None:  # noqa: F811
    asyncio.run(seed(db_url, standin.standin.team_id))
    env = {"DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": standin.api_url}
    first = okrbot("digest", "send", "--team", "Customer Success", env=env)
    assert first.returncode == 0, first.stderr
    assert "  sent to: U0MANAGER, C0CS" in first.stdout
    (dm,) = [
        c
        for c in standin.standin.calls_to("chat.postMessage")
        if c.params["channel"] == "D0MANAGER"
    ]
    assert dm.params["text"].startswith("OKR digest · Customer Success")
    assert len(standin.standin.uploaded_files) == 1

    again = okrbot("digest", "send", "--team", "customer success", env=env)
    assert again.returncode == 0 and "  already sent to: U0MANAGER, C0CS" in again.stdout
    assert len(standin.standin.calls_to("chat.postMessage")) == 2


def test_digest_send_names_an_unknown_team(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SLACK_BOT_TOKEN": "xoxb-1"}
    unknown = okrbot("digest", "send", "--team", "Legal", "--workspace", "T1", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == (
        "okrbot: I could not find exactly one team called 'Legal' (found: none)."
    )
