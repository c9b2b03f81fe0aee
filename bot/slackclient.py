"""The Slack Web API client: every call goes to `SLACK_API_URL`, with slack_sdk's retries."""

from __future__ import annotations

import asyncio

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings


def make_client(settings: Settings, *, timeout: int = 10) -> AsyncWebClient:
    """A client that waits out 429s (honouring `Retry-After`) and retries 500/503 and resets."""
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
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=connection_errors),
            AsyncRateLimitErrorRetryHandler(max_retry_count=8),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )
