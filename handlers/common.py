"""What every handler needs from a request: the services, the workspace, the user's language."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.i18n import N_, normalize_locale, t
from bot.services import people
from bot.services.container import Services


@dataclass(frozen=True)
class Caller:
    """Who is asking, from which workspace, in which language."""

    workspace_id: str
    user_id: str
    locale: str


Subcommand = Callable[["Caller", str, AsyncBoltContext, AsyncRespond], Awaitable[None]]


def services_of(context: AsyncBoltContext) -> Services:
    return context["services"]


async def caller(context: AsyncBoltContext, client: AsyncWebClient, user_id: str) -> Caller:
    """The caller with their language: remembered, else asked of Slack once and remembered."""
    services = services_of(context)
    workspace_id = context.team_id or context.enterprise_id or ""
    locale = services.locales.get((workspace_id, user_id))
    if locale is None:
        locale = await _locale(services, client, workspace_id, user_id)
        services.locales[(workspace_id, user_id)] = locale
    context["locale"] = locale  # lets the error handler answer in the same language
    return Caller(workspace_id=workspace_id, user_id=user_id, locale=locale)


async def _locale(
    services: Services, client: AsyncWebClient, workspace_id: str, user_id: str
) -> str:
    locale = await services.known_locales.submit((workspace_id, user_id))
    if locale is not None:
        return locale
    locale, timezone = services.settings.okrbot_locale, None
    try:
        info = (await client.users_info(user=user_id, include_locale=True))["user"]
        locale, timezone = normalize_locale(info.get("locale"), locale), info.get("tz")
    except SlackApiError:
        pass  # Unknown to Slack's users.info (rare): use the workspace default language.
    await people.remember_person(
        database=services.database,
        workspace_id=workspace_id,
        user_id=user_id,
        locale=locale,
        timezone=timezone,
    )
    return locale


async def say_no_team(who: Caller, name: str, respond: AsyncRespond) -> None:
    """The answer when a request names no team we know (or the caller is in none)."""
    key = N_("I don't know a team called {name}.") if name else N_("You are not in any team yet.")
    await respond(text=t(who.locale, key, name=name), response_type="ephemeral")


# Bolt polls every 10 ms for ack() while the listener runs in its own task; a listener that
# fails within that window makes Bolt forget the ack and answer Slack 404 (see its
# `asyncio_runner.py`). Waiting this long before re-raising lets the 200 go out first.
_ACK_SETTLE_SECONDS = 0.05

Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener) -> Listener:
    """Wrap a listener so shutdown can wait for it, and its errors reach the app's error
    handler after Slack got its ack. Listeners must take `context` (checked here, at start)."""
    if "context" not in inspect.signature(listener).parameters:
        raise TypeError(f"{listener.__name__} must accept `context`")

    @functools.wraps(listener)
    async def run(*args: Any, **kwargs: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            services_of(kwargs["context"]).track(task)
        try:
            await listener(*args, **kwargs)
        except Exception:
            await asyncio.sleep(_ACK_SETTLE_SECONDS)
            raise

    return run
