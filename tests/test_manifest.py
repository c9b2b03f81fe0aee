"""`manifest.yml` is valid for Slack and matches what the app registers and calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

import handlers
from bot.app import build_app
from bot.blocks import ids
from bot.config import load_settings
from bot.services.container import Services
from storage.db import Database
from tests.conftest import REPO, SHARED

MANIFEST = yaml.safe_load((REPO / "manifest.yml").read_text())
SCHEMA = SHARED / "slack" / "manifest.schema.json"
# Web API method -> the bot scope it needs.
SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "im:history",
    "users_info": "users:read",
    "users_list": "users:read",
    "users_lookupByEmail": "users:read.email",
    "files_upload_v2": "files:write",
    "views_open": None,
    "views_publish": None,
    "views_update": None,
    "auth_test": None,
    "bots_info": "users:read",
}
# `client.<name>(` calls that are not Web API methods (the Socket Mode client's).
NOT_WEB_API = {"send_dict"}
SOURCES = [*REPO.glob("bot/**/*.py"), *REPO.glob("handlers/*.py"), *REPO.glob("scheduler/*.py")]


@pytest.fixture
def app(tmp_path: Path) -> AsyncApp:
    settings = load_settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="s",
        database_url=f"sqlite:///{tmp_path}/x.db",
    )
    services = Services(settings=settings, database=Database.connect(settings.database_url))
    return build_app(settings, services=services)


async def matched(app: AsyncApp, body: dict) -> bool:
    """Whether some listener of the app takes a request with this body."""
    request = AsyncBoltRequest(body=json.dumps(body), mode="socket_mode")
    request.context["team_id"] = "T1"
    for listener in app._async_listeners:
        if await listener.async_matches(req=request, resp=BoltResponse(status=200)):
            return True
    return False


def _event(kind: str) -> dict:
    event = {"type": kind, "user": "U1", "channel": "D1", "channel_type": "im", "ts": "1.2"}
    return {"type": "event_callback", "team_id": "T1", "event": event}


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/slack is not beside the repo")
def test_manifest_is_valid_for_slack() -> None:
    schema = json.loads(SCHEMA.read_text())
    problems = [error.message for error in jsonschema.Draft7Validator(schema).iter_errors(MANIFEST)]
    assert problems == []


async def test_commands_in_manifest_are_exactly_the_registered_ones(app: AsyncApp) -> None:
    declared = {item["command"] for item in MANIFEST["features"]["slash_commands"]}
    assert declared == set(handlers.COMMANDS) == {"/okr", "/kpi"}
    for command in declared:
        assert await matched(app, {"command": command, "text": "", "team_id": "T1"})


async def test_bot_events_match_the_listeners(app: AsyncApp) -> None:
    declared = {
        name.split(".")[0] for name in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    }
    assert declared == set(handlers.EVENTS)
    for kind in declared:
        assert await matched(app, _event(kind))
    assert not await matched(app, _event("reaction_added"))


async def test_actions_are_registered_and_interactivity_is_on(app: AsyncApp) -> None:
    assert set(ids.ACTION_IDS) == set(handlers.ACTIONS)
    assert set(ids.VIEW_IDS) == set(handlers.VIEWS)
    declared = ids.ACTION_IDS
    for action_id in declared:
        body = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "actions": [{"action_id": action_id, "type": "button", "value": "1"}],
        }
        assert await matched(app, body)
    for callback_id in ids.VIEW_IDS:
        body = {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "U1"},
            "view": {"type": "modal", "callback_id": callback_id, "state": {"values": {}}},
        }
        assert await matched(app, body)
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True


def test_scopes_are_exactly_those_the_code_uses() -> None:
    called = set()
    for path in SOURCES:
        called |= set(re.findall(r"client\.(\w+)\(", path.read_text()))
    called -= NOT_WEB_API
    assert called <= set(SCOPES), f"add the scope of {called - set(SCOPES)} to SCOPES"
    needed = {SCOPES[method] for method in called if SCOPES[method]}
    needed |= {"commands"}  # slash commands
    needed |= {"im:history"}  # message.im events
    needed |= {"users:read"}  # user_change and team_join events
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed
