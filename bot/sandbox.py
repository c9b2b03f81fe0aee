"""The real app on loopback, wired to the local Slack stand-in: used by the demo, the
scenario tests and the benchmarks. Nothing here is faked below the network edge: requests are
signed HTTP to `POST /slack/events`, and the app's Web API calls reach the stand-in over HTTP.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.config import Settings, load_settings
from bot.server import EVENTS_PATH, bound_port, build_web_app, serve
from bot.services.container import Services
from bot.slackclient import api_session, make_client
from bot.standin.sender import SignedSender
from bot.standin.server import Call, SlackStandin
from storage.db import Database
from storage.migrate import upgrade
from storage.models import utcnow

SIGNING_SECRET = "okrbot-sandbox-signing-secret"
BOT_TOKEN = "xoxb-okrbot-sandbox"
TEAM_ID = "T0DEMO"


@dataclass
class Sandbox:
    standin: SlackStandin
    sender: SignedSender
    services: Services
    client: AsyncWebClient
    url: str

    @property
    def database(self) -> Database:
        return self.services.database

    async def command(
        self, command: str, text: str, *, user_id: str, channel_id: str = "C0GENERAL"
    ) -> Call:
        """Send a signed slash command and return its answer: the acknowledgement's body when
        the app answered in it (an answer always says its `response_type`; a bare "queued"
        note does not), else what the app posted to the response_url."""
        tag = secrets.token_hex(8)  # tells this command's answer from those of others in flight
        response_url = self.standin.response_url(tag)
        answer = await self.sender.slash_command(
            command, text, user_id=user_id, channel_id=channel_id, response_url=response_url
        )
        if answer.status != 200:
            raise AssertionError(f"{command} {text!r} answered HTTP {answer.status}: {answer.body}")
        if isinstance(answer.json, dict) and answer.json.get("response_type"):
            return Call("ack", answer.json, time.monotonic(), answer.status, {"ok": True})
        calls = await self.standin.wait_for(
            "response_url", where=lambda call: call.params.get("_tag") == tag, timeout=30
        )
        return calls[0]


@asynccontextmanager
async def sandbox(
    database_url: str,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    migrate: bool = True,
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[Sandbox]:
    """Start the stand-in and the app's HTTP server on loopback; stop both on exit.
    `overrides` are settings on top of the sandbox's own (`okrbot_api_rate=…`)."""
    async with SlackStandin(team_id=TEAM_ID) as standin:
        settings = settings or load_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.api_url,
            database_url=database_url,
            **(overrides or {}),
        )
        database = Database.connect(settings.database_url)
        if migrate:
            await upgrade(database)
        services = Services(settings=settings, database=database, clock=clock)
        client = make_client(settings, session=api_session())
        app = build_app(settings, client=client, services=services)
        services.closers.append(client.session.close)  # type: ignore[union-attr]
        runner: web.AppRunner = await serve(build_web_app(app, services), "127.0.0.1", 0)
        url = f"http://127.0.0.1:{bound_port(runner)}"
        try:
            async with SignedSender(url + EVENTS_PATH, SIGNING_SECRET, team_id=TEAM_ID) as sender:
                yield Sandbox(standin, sender, services, client, url)
        finally:
            await runner.cleanup()
            await services.close()


def blocks_of(call: Call) -> list[dict[str, Any]]:
    """The Block Kit blocks a recorded call carried (message or view)."""
    params = call.params
    if "view" in params:
        return list(params["view"].get("blocks", []))
    return list(params.get("blocks") or [])
