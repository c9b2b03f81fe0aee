"""The Slack Web API client: every call goes to `SLACK_API_URL`, with slack_sdk's retries."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import (
    ClientOSError,
    ClientSession,
    ClientTimeout,
    ServerConnectionError,
    ServerDisconnectedError,
)
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings

# Seconds a Web API call may take, retries apart.
TIMEOUT = 10


def make_client(
    settings: Settings, *, timeout: int = TIMEOUT, session: ClientSession | None = None
) -> AsyncWebClient:
    """A client that waits out 429s (honouring `Retry-After`) and retries 500/503 and resets.

    A long-running app gives it a session (`api_session`), whose connections every call then
    reuses; without one, slack_sdk opens and closes a session, and a connection, for each call
    (fine for a command that makes a few)."""
    connection_errors = [
        ServerConnectionError,
        ServerDisconnectedError,
        ClientOSError,
        asyncio.TimeoutError,
    ]
    return AsyncWebClient(
        token=settings.require_bot_token(),
        base_url=settings.slack_api_url,
        timeout=timeout,
        session=session,
        logger=sdk_logger("slack_sdk.web.async_base_client"),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=connection_errors),
            AsyncRateLimitErrorRetryHandler(max_retry_count=8),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )


def sdk_logger(name: str) -> logging.Logger:
    """slack_sdk's logger `name`, given the level it inherits now as its own. slack_sdk builds
    each debug line of a call (the whole request and answer) whenever its logger's own level is
    unset, then drops it: an eighth of the CPU of a `chat.postMessage`. Set a slack_sdk
    logger's level before the client is made to see its debug lines."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logger.getEffectiveLevel())
    return logger


def api_session(timeout: int = TIMEOUT) -> ClientSession:
    """The Web API client's session for a long-running app, made in its event loop: each call
    is held to `timeout` seconds, as slack_sdk holds a call on a session of its own. The app
    closes it when it stops."""
    return ClientSession(timeout=ClientTimeout(total=timeout))
