"""Socket Mode: the app connects to the stand-in's WebSocket, acks envelopes and answers."""

from __future__ import annotations

import datetime as dt

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import build_app
from bot.config import load_settings
from bot.seed import seed_okrs, seed_people
from bot.services.container import Services
from bot.services.imports import import_file
from bot.slackclient import make_client
from bot.standin.sender import load_payload
from bot.standin.server import SlackStandin
from storage.db import Database

NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


async def resolve(email: str) -> str | None:
    return "U0BOB"


async def test_socket_mode_acks_and_answers_a_slash_command(
    database: Database, db_url: str
) -> None:
    await import_file(
        database=database,
        workspace_id="T0DEMO",
        text=seed_okrs(),
        filename="s",
        resolve_email=resolve,
    )
    async with SlackStandin() as standin:
        for person in seed_people():
            standin.add_user(person["id"], **{k: v for k, v in person.items() if k != "id"})
        settings = load_settings(
            slack_bot_token="xoxb-1",
            slack_app_token="xapp-1-socket",
            slack_api_url=standin.api_url,
            database_url=db_url,
        )
        services = Services(settings=settings, database=database, clock=lambda: NOW)
        app = build_app(settings, client=make_client(settings), services=services, http=False)
        handler = AsyncSocketModeHandler(app, "xapp-1-socket")
        await handler.connect_async()
        try:
            await standin.socket_mode.wait_connected()
            command = load_payload("slash_command") | {
                "command": "/okr",
                "text": "status",
                "user_id": "U0ALICE",
                "channel_id": "C0CS",
                "team_id": "T0DEMO",
                "response_url": standin.response_url(),
            }
            envelope_id = await standin.socket_mode.send("slash_commands", command)
            (ack,) = await standin.wait_for("socket_mode.ack")
        finally:
            await handler.close_async()
            await services.close()
    assert ack.params["envelope_id"] == envelope_id
    # Ready within the budget, the answer rides in the envelope's acknowledgement.
    assert "Increase NPS from 70 to 80" in str(ack.params["payload"]["blocks"])
    assert standin.calls_to("response_url") == []
    assert standin.calls_to("apps.connections.open")[0].response["ok"] is True


async def test_connections_need_an_app_level_token() -> None:
    async with SlackStandin() as standin:
        answer = standin.socket_mode.connection_answer(standin.base_url, "xoxb-bot")
    assert answer == {"ok": False, "error": "invalid_auth"}
