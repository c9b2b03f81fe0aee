"""SPEC §6's floor: a bare Bolt `AsyncApp` that acks `/okr` with a static 20-block answer in
the HTTP response, served by aiohttp as `okrbot run --http` serves the app. What it costs is
Bolt, aiohttp and signature checks on this machine: the app's figures are held to it.

    .venv/bin/python -m bench.floor --port 3100 --api-url http://127.0.0.1:PORT/api/

Reads SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN; Web API calls (Bolt's `auth.test`) go to
`--api-url`, the stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

BLOCKS = 20


def answer_blocks() -> list[dict[str, Any]]:
    """About the size of a `/okr status` answer: a header and sections with progress text."""
    sections = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Objective {i}*\n`▓▓▓▓░░░░░░` 40% · on track"},
        }
        for i in range(BLOCKS - 1)
    ]
    return [{"type": "header", "text": {"type": "plain_text", "text": "Status"}}, *sections]


def build_floor(api_url: str) -> web.Application:
    """The bare Bolt app behind `POST /slack/events`, and `GET /healthz` for the bench."""
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=api_url)
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    blocks = answer_blocks()

    @app.command("/okr")
    async def okr(ack: AsyncAck) -> None:
        await ack(text="Status", blocks=blocks, response_type="ephemeral")

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.add_routes([web.post("/slack/events", events), web.get("/healthz", healthz)])
    return web_app


async def serve(port: int, api_url: str) -> None:
    runner = web.AppRunner(build_floor(api_url), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # The same process tuning as `okrbot run`, so the ratios compare code, not settings.
    gc.freeze()
    try:
        await asyncio.Event().wait()  # until SIGTERM ends the process
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.api_url))


if __name__ == "__main__":
    main()
