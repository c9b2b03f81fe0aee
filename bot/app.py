"""`build_app()`: the Bolt app, wired to its handlers and services. Wiring only."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config import Settings
from bot.errors import OkrbotError
from bot.homefeed import HomeFeed
from bot.i18n import N_, t
from bot.responder import SessionRespond
from bot.services.container import Services
from bot.slackclient import make_client
from storage.db import Database, DatabaseUnavailable, is_transient

log = logging.getLogger("okrbot")

GENERIC_ERROR = N_("Something went wrong on my side, and nothing was changed. Please try again.")
DATABASE_DOWN = N_(
    "I can't reach my database just now, so nothing was saved. Please try again in a minute."
)


def build_app(
    settings: Settings,
    *,
    client: AsyncWebClient | None = None,
    services: Services | None = None,
    http: bool = True,
) -> AsyncApp:
    """A fresh AsyncApp. In HTTP mode the signing secret is required and always verified."""
    services = services or Services(
        settings=settings, database=Database.connect(settings.database_url)
    )
    client = client or make_client(settings)
    home = HomeFeed(services, client)
    services.closers.append(home.close)
    app = AsyncApp(
        client=client,
        signing_secret=settings.require_signing_secret() if http else None,
        request_verification_enabled=http,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    async def inject_services(context: AsyncBoltContext, next: Any) -> BoltResponse | None:
        context["services"] = services
        context["home"] = home
        if context.response_url:
            context["respond"] = SessionRespond(
                response_url=context.response_url, session=services.http
            )
        return await next()

    app.error(_on_error)
    handlers.register(app)
    return app


async def _on_error(
    error: Exception, body: dict, context: AsyncBoltContext, logger: logging.Logger
) -> None:
    """The one error handler: log with the traceback, tell the user in their language."""
    services: Services | None = context.get("services")
    if services is not None:
        services.metrics.errors.labels(type=type(error).__name__).inc()
    locale = context.get("locale") or _default_locale(services)
    if isinstance(error, OkrbotError):
        log.info("user error: %s", error)
        text = t(locale, error.msgid, **error.params)
    elif isinstance(error, DatabaseUnavailable) or is_transient(error):
        log.error("database unavailable: %s", error)
        text = t(locale, DATABASE_DOWN)
    else:
        log.error("error while handling a Slack request", exc_info=error)
        text = t(locale, GENERIC_ERROR)
    await _tell(context, body, text)


def _default_locale(services: Services | None) -> str:
    return services.settings.okrbot_locale if services else "en"


async def _tell(context: AsyncBoltContext, body: dict, text: str) -> None:
    """Say `text` to whoever caused the error, the quietest way the request allows."""
    try:
        if context.respond is not None and (body.get("response_url") or body.get("response_urls")):
            await context.respond(text=text, response_type="ephemeral", replace_original=False)
        elif context.channel_id and context.user_id:
            await context.client.chat_postEphemeral(
                channel=context.channel_id, user=context.user_id, text=text
            )
    except Exception:
        log.warning("could not tell the user about an error", exc_info=True)
