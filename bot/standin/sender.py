"""SignedSender: sends Slack's requests, signed as Slack signs them, to the app's real endpoint.

Scenario tests drive the app the way Slack does: slash commands and interactions form-encoded,
events as JSON, each with `X-Slack-Signature` over the exact bytes sent. Payloads start from
the JSON templates in `bot/standin/payloads/` and are filled in here.
"""

import copy
import functools
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.standin.workspace import TimestampClock, dm_channel_id

# Bolt refuses timestamps more than five minutes off; ten is stale beyond doubt.
STALE_SECONDS = 10 * 60
_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Response:
    """The app's answer, and the payload that was sent (to replay it, or read generated ids)."""

    status: int
    body: str
    json: Any | None
    payload: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _template_text(name: str) -> str:
    return resources.files("bot.standin.payloads").joinpath(f"{name}.json").read_text("utf-8")


def load_payload(name: str) -> dict[str, Any]:
    """A fresh copy of the payload template `bot/standin/payloads/{name}.json`."""
    return json.loads(_template_text(name))


def _maybe_json(text: str) -> Any | None:
    """The decoded body when the app answered JSON, else None."""
    try:
        return json.loads(text)
    except ValueError:
        return None


class _Transport:
    """The HTTP session a sender and its tampered copies share."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The open session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class SignedSender:
    """Plays Slack towards the app's HTTP endpoint (`POST /slack/events`)."""

    def __init__(
        self,
        endpoint_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0DEMO",
        bot_user_id: str = "U0OKRBOT",
        api_app_id: str = "A0OKRBOT",
        timeout: float = 10.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.api_app_id = api_app_id
        self.clock = TimestampClock()
        self._verifier = SignatureVerifier(signing_secret)
        self._transport = _Transport(timeout)
        self._bad_signature = False
        self._clock_offset = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP session (shared with tampered copies)."""
        await self._transport.close()

    def tampered(self, *, bad_signature: bool = False, stale: bool = False) -> Self:
        """A copy that signs wrongly or with a timestamp ten minutes old, for 401 tests."""
        clone = copy.copy(self)
        clone._bad_signature = bad_signature
        clone._clock_offset = -STALE_SECONDS if stale else 0
        return clone

    # -- sending

    def signature_headers(self, body: bytes) -> dict[str, str]:
        """X-Slack-Request-Timestamp and X-Slack-Signature for these exact bytes."""
        timestamp = str(int(time.time()) + self._clock_offset)
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body) or ""
        if self._bad_signature:
            # Off by one hex digit: a signature that is almost right must still be refused.
            signature = signature[:-1] + ("1" if signature.endswith("0") else "0")
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}

    async def send(
        self,
        body: bytes,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Response:
        """POSTs raw bytes with Slack's headers; `payload` is kept on the Response."""
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": _USER_AGENT,
            **self.signature_headers(body),
            **(headers or {}),
        }
        session = self._transport.session()
        async with session.post(self.endpoint_url, data=body, headers=all_headers) as answer:
            text = await answer.text()
        return Response(answer.status, text, _maybe_json(text), payload or {})

    async def send_json(
        self, payload: dict[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Sends a JSON payload, as Slack sends events."""
        body = json.dumps(payload).encode()
        return await self.send(
            body, content_type="application/json", headers=headers, payload=payload
        )

    async def send_form(self, fields: dict[str, str], payload: dict[str, Any]) -> Response:
        """Sends form fields, as Slack sends slash commands and interactions."""
        body = urlencode(fields).encode()
        return await self.send(
            body, content_type="application/x-www-form-urlencoded", payload=payload
        )

    async def send_interaction(self, payload: dict[str, Any]) -> Response:
        """Sends an interaction payload as Slack does: JSON in the form field `payload`."""
        return await self.send_form({"payload": json.dumps(payload)}, payload)

    # -- ids

    def new_trigger_id(self) -> str:
        """A fresh trigger_id shaped like Slack's."""
        return f"{int(time.time())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"

    @staticmethod
    def new_event_id() -> str:
        """A fresh event_id shaped like Slack's."""
        return f"Ev{secrets.token_hex(5).upper()}"

    def _user(self, user_id: str) -> dict[str, str]:
        """The `user` object of an interaction payload."""
        name = user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    # -- Slack's requests

    async def url_verification(self, challenge: str) -> Response:
        """The handshake Slack sends when the request URL is saved."""
        return await self.send_json(load_payload("url_verification") | {"challenge": challenge})

    async def slash_command(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str = "C0GENERAL",
        response_url: str,
        trigger_id: str | None = None,
    ) -> Response:
        """A slash command, form-encoded like Slack's."""
        payload = load_payload("slash_command") | {
            "team_id": self.team_id,
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else channel_id.lower(),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "response_url": response_url,
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        return await self.send_form(payload, payload)

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> Response:
        """An Events API delivery; with `retry_num`, one of Slack's retries of it."""
        envelope = load_payload("event_callback") | {
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "event_id": event_id or self.new_event_id(),
            "event_time": int(time.time()),
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        envelope["authorizations"][0] |= {"team_id": self.team_id, "user_id": self.bot_user_id}
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.send_json(envelope, headers=headers)

    async def message_im(
        self,
        user_id: str,
        text: str,
        *,
        channel: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> Response:
        """A member's message in their DM with the bot (`channel` defaults to the stand-in's)."""
        ts = ts or self.clock.next()
        event = load_payload("event_message_im") | {
            "client_msg_id": str(uuid.uuid4()),
            "text": text,
            "user": user_id,
            "ts": ts,
            "event_ts": ts,
            "team": self.team_id,
            "channel": channel or dm_channel_id(user_id),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return await self.event(event, event_id=event_id, retry_num=retry_num)

    async def message_changed(
        self,
        user_id: str,
        text: str,
        *,
        ts: str,
        previous_text: str = "",
        channel: str | None = None,
        event_id: str | None = None,
    ) -> Response:
        """A member's edit of their DM message `ts` (subtype message_changed)."""
        edited_ts = self.clock.next()
        event = load_payload("event_message_changed")
        common = {"user": user_id, "team": self.team_id, "ts": ts}
        event["message"] |= common | {"text": text, "edited": {"user": user_id, "ts": edited_ts}}
        event["previous_message"] |= common | {"text": previous_text}
        event |= {"channel": channel or dm_channel_id(user_id), "ts": edited_ts}
        event["event_ts"] = edited_ts
        return await self.event(event, event_id=event_id)

    async def app_home_opened(
        self,
        user_id: str,
        *,
        channel: str | None = None,
        view: dict[str, Any] | None = None,
        event_id: str | None = None,
    ) -> Response:
        """A member opening the App Home tab (`view` is the one last published, if any)."""
        event = load_payload("event_app_home_opened") | {
            "user": user_id,
            "channel": channel or dm_channel_id(user_id),
            "event_ts": self.clock.next(),
        }
        if view is not None:
            event["view"] = view
        return await self.event(event, event_id=event_id)

    async def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        view: dict[str, Any] | None = None,
        block_id: str = "b",
        action: Mapping[str, Any] | None = None,
    ) -> Response:
        """A click on a button (or `action` fields for other elements) in a message or view.

        Pass `message` (e.g. the `message` chat.postMessage returned) to send it as Slack does;
        `container` overrides the one derived from the message or view.
        """
        message_ts = message_ts or (message or {}).get("ts")
        payload = load_payload("block_actions")
        payload |= {
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "container": container or _container(channel_id, message_ts, view),
        }
        payload["team"]["id"] = self.team_id
        optional = {
            "channel": {"id": channel_id, "name": channel_id.lower()} if channel_id else None,
            "message": message,
            "view": view,
            "response_url": response_url,
        }
        payload |= {key: item for key, item in optional.items() if item is not None}
        action_ts = self.clock.next()
        payload["actions"][0] |= {"action_id": action_id, "block_id": block_id, "value": value}
        payload["actions"][0] |= {"action_ts": action_ts, **(action or {})}
        return await self.send_interaction(payload)

    async def view_submission(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        user_id: str,
        private_metadata: str = "",
        view_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Response:
        """A modal's submission; `values` is `view.state.values`: {block_id: {action_id: {...}}}."""
        payload = load_payload("view_submission")
        payload |= {
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "trigger_id": self.new_trigger_id(),
        }
        payload["team"]["id"] = self.team_id
        view_id = view_id or f"V0{secrets.token_hex(4).upper()}"
        payload["view"] |= {
            "id": view_id,
            "root_view_id": view_id,
            "team_id": self.team_id,
            "app_installed_team_id": self.team_id,
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "blocks": blocks or [],
        }
        return await self.send_interaction(payload)


def _container(
    channel_id: str | None, message_ts: str | None, view: dict[str, Any] | None
) -> dict[str, Any]:
    """Where an action happened, as Slack describes it."""
    if view is not None:
        return {"type": "view", "view_id": view.get("id", "")}
    if message_ts:
        return {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
    return {}
