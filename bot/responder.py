"""Answers to Slack requests: in the acknowledgement when ready in time, else through the
request's `response_url`, on one shared HTTP session.

Bolt's own `respond()` opens a new connection for every answer and ignores Slack's reply; this
one keeps connections alive (answers are the hot path of `/okr status`) and logs a refused
answer (an expired URL, or blocks Slack rejects) instead of losing it silently.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.webhook.async_client import AsyncWebhookClient, WebhookResponse

from bot.slackclient import sdk_logger

log = logging.getLogger("okrbot.respond")


class SharedSession:
    """One aiohttp session, made inside the running loop when first needed."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SessionRespond(AsyncRespond):
    """Bolt's `respond()`, posting on a shared session and checking Slack's answer."""

    def __init__(self, *, response_url: str, session: SharedSession) -> None:
        super().__init__(response_url=response_url)
        self._shared = session

    async def __call__(self, text: str | dict = "", **kwargs: Any) -> WebhookResponse:
        client = AsyncWebhookClient(
            url=self.response_url or "",
            session=self._shared.get(),
            logger=sdk_logger("slack_sdk.webhook.async_client"),
        )
        message = text if isinstance(text, dict) else {"text": text, **kwargs}
        response = await client.send_dict({k: v for k, v in message.items() if v is not None})
        if response.status_code != 200:
            log.warning(
                "response_url refused the answer: %s %s", response.status_code, response.body
            )
        return response


class AnswerInAck(AsyncRespond):
    """`respond()` for a slash command whose answer may go in the HTTP acknowledgement.

    The first answer given before `ack_now()` is sent as the ack's body: Slack shows it at once,
    with no response_url round trip. Once acknowledged, answers go through the response_url."""

    def __init__(self, *, ack: AsyncAck, respond: AsyncRespond) -> None:
        super().__init__(response_url=respond.response_url)
        self._ack = ack
        self._respond = respond
        self.acknowledged = False

    async def __call__(self, text: str | dict = "", **kwargs: Any) -> WebhookResponse | None:
        if self.acknowledged:
            return await self._respond(text, **kwargs)
        message = text if isinstance(text, dict) else {"text": text, **kwargs}
        self.acknowledged = True
        await self._ack(
            text=message.get("text", ""),
            blocks=message.get("blocks"),
            response_type=message.get("response_type"),
        )
        return None

    async def ack_now(self, text: str = "") -> None:
        """Acknowledge (with `text`, if any) unless an answer already did."""
        if not self.acknowledged:
            self.acknowledged = True
            await self._ack(text=text) if text else await self._ack()
