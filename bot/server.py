"""The HTTP edge: `POST /slack/events`, `GET /healthz`, `GET /metrics` and the API under
`/api/v1` on one aiohttp server."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.api import PREFIX as API_PREFIX
from bot.api import build_api
from bot.services.container import Services

EVENTS_PATH = "/slack/events"
_INTERACTIONS = {
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
}


def request_kind(body: Mapping[str, Any]) -> str:
    """`command`, `event`, `interaction` or `other`, for metrics labels, from the body Bolt
    has already parsed (an interaction's is its payload)."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        return "event"
    return "interaction" if kind in _INTERACTIONS else "other"


def build_web_app(app: AsyncApp, services: Services) -> web.Application:
    """The aiohttp application serving Slack and the operational endpoints."""

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        bolt_request = await to_bolt_request(request)
        response = await to_aiohttp_response(await app.async_dispatch(bolt_request))
        kind = request_kind(bolt_request.body)
        services.metrics.answered(kind, response.status, time.perf_counter() - started)
        return response

    async def healthz(_request: web.Request) -> web.Response:
        try:
            await services.database.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            return web.json_response({"ok": False, "database": type(exc).__name__}, status=503)
        return web.json_response({"ok": True})

    async def metrics(_request: web.Request) -> web.Response:
        body = services.metrics.render(waiting=services.database.waiting)
        return web.Response(body=body, content_type="text/plain")

    web_app = web.Application()
    web_app.add_routes(
        [
            web.post(EVENTS_PATH, slack_events),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
        ]
    )
    web_app.add_subapp(API_PREFIX, build_api(services, app.client))
    return web_app


async def serve(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls `cleanup()` to stop."""
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (for `port=0` in tests)."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("the server is not listening")
