"""Webhooks as an operator runs them: `okrbot webhook add|list|remove` on the command line and
`okrbot run --http` sending, killed with SIGKILL while its deliveries are still refused and
started again: every event arrives, signed, none lost. Both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from sqlmodel import select

from bot.seed import SEED_OKRS
from bot.server import EVENTS_PATH
from bot.services.imports import import_file
from bot.standin.sender import SignedSender
from bot.standin.server import SlackStandin
from storage.db import Database
from storage.models import WebhookDelivery
from tests.conftest import REPO
from tests.support.receiver import Receiver, receiver, verify

WS = "T0DEMO"
SIGNING_SECRET = "webhooks-cli-secret"


async def okrbot(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def seeded(url: str) -> Database:
    database = Database.connect(url)
    text = SEED_OKRS.read_text().replace("bob@example.com", "U0BOB")
    await import_file(database=database, workspace_id=WS, text=text, filename="seed.yaml")
    return database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandin]:
    async with SlackStandin(team_id=WS) as running:
        yield running


@pytest.fixture
def env(db_url: str, standin: SlackStandin) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "OKRBOT_WEBHOOK_POLL": "0.05",
        "OKRBOT_WEBHOOK_FIRST_RETRY": "0.1",
        "OKRBOT_WEBHOOK_TIMEOUT": "2",
    }


async def start(env: dict[str, str]) -> asyncio.subprocess.Process:
    """`okrbot run --http`, once `/healthz` answers."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--http",
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.returncode is not None:
                raise AssertionError(f"okrbot run exited with {process.returncode}")
            try:
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("okrbot run never answered /healthz")


async def rows(database: Database) -> list[WebhookDelivery]:
    async with database.read() as session:
        return list((await session.exec(select(WebhookDelivery))).all())


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(1500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def updates(env: dict[str, str], standin: SlackStandin, values: range) -> None:
    """`/okr update KR-1 <value>` for each value, signed as Slack signs them."""
    url = f"http://127.0.0.1:{env['PORT']}{EVENTS_PATH}"
    async with SignedSender(url, SIGNING_SECRET, team_id=WS) as sender:
        for value in values:
            answer = await sender.slash_command(
                "/okr",
                f"update KR-1 {value}",
                user_id="U0ALICE",
                response_url=standin.response_url(),
            )
            assert answer.status == 200


async def test_no_delivery_is_lost_across_a_kill_9(
    db_url: str, env: dict[str, str], standin: SlackStandin
) -> None:
    database = await seeded(db_url)
    try:
        async with receiver() as hooks:
            status, secret, said = await okrbot(
                "webhook", "add", hooks.url(), "--events", "kr.updated", env=env
            )
            assert status == 0, said
            secret = secret.strip()
            assert len(secret) == 64 and "shown only now" in said

            hooks.always_refuse = True
            process = await start(env)
            try:
                await updates(env, standin, range(70, 76))

                async def queued() -> bool:
                    return len(await rows(database)) == 6

                await until(queued, "six deliveries in the outbox")
                await until(lambda: _tried_all(hooks, 6), "every delivery tried")
            finally:
                process.send_signal(signal.SIGKILL)
                await process.wait()
            assert all(row.delivered_at is None for row in await rows(database))
            assert hooks.accepted == []

            hooks.always_refuse = False
            process = await start(env)
            try:
                accepted = await hooks.wait_accepted(6)
                await asyncio.sleep(0.5)  # nothing more is sent
            finally:
                process.terminate()
                await process.wait()
            ids = {row.delivery_id for row in await rows(database)}
            assert {r.delivery for r in accepted} == ids and len(hooks.accepted) == 6
            assert sorted(r.json["data"]["new_value"] for r in accepted) == list(range(70, 76))
            assert all(verify(secret, r.headers, r.body) for r in hooks.got)
            assert all(row.delivered_at is not None for row in await rows(database))

            status, listed, _ = await okrbot("webhook", "list", env=env)
            assert listed == f"1  {hooks.url()}  kr.updated  0 pending, 6 delivered, 0 given up\n"
            status, removed, _ = await okrbot("webhook", "remove", hooks.url(), env=env)
            assert removed == f"okrbot: webhook to {hooks.url()} removed\n"
            assert await rows(database) == []
    finally:
        await database.dispose()


async def _tried_all(hooks: Receiver, count: int) -> bool:
    return len({r.delivery for r in hooks.got}) == count


async def test_bad_webhook_requests_are_one_line_and_exit_2(env: dict[str, str]) -> None:
    database = await seeded(env["DATABASE_URL"])
    await database.dispose()
    status, out, err = await okrbot(
        "webhook", "add", "https://example.com/h", "--events", "kr.updated,kr.deleted", env=env
    )
    assert (status, out) == (2, "")
    assert err == (
        "okrbot: Events must be some of kr.updated, kpi.alert, digest.sent, round.closed;"
        " not kr.deleted.\n"
    )
    status, out, err = await okrbot(
        "webhook", "add", "example.com", "--events", "kpi.alert", env=env
    )
    assert (status, out) == (2, "")
    assert err == (
        "okrbot: A webhook needs an http(s) URL such as https://example.com/okrbot: example.com\n"
    )
    status, _, err = await okrbot("webhook", "remove", "7", env=env)
    assert (status, err) == (2, "okrbot: I could not find a webhook 7.\n")
