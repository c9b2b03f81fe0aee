"""The HTTP API (SPEC §9), a second door beside Slack: routes under `/api/v1`, the models that
validate requests and generate the OpenAPI document, token checks and rate limits."""

from __future__ import annotations

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.api.limits import RateLimiter
from bot.api.routes import API, PREFIX, ROUTES, Api, error_middleware
from bot.services.container import Services
from bot.services.tokens import TokenChecker

__all__ = ["PREFIX", "build_api"]


def build_api(services: Services, client: AsyncWebClient) -> web.Application:
    """The API as an aiohttp sub-application, mounted at `PREFIX` beside `/slack/events`."""
    settings = services.settings
    api = Api(
        services=services,
        client=client,
        tokens=TokenChecker(services.database),
        limiter=RateLimiter(rate=settings.okrbot_api_rate, burst=settings.okrbot_api_burst),
    )
    app = web.Application(middlewares=[error_middleware(api)])
    app[API] = api
    app.add_routes(ROUTES)
    return app
