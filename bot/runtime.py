"""What the `okrbot` commands do, as async functions the CLI starts (and tests call)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.app import build_app
from bot.config import Settings
from bot.errors import ConfigError, NotFound
from bot.notify import DigestReport, RetroReport
from bot.server import build_web_app, serve
from bot.services import checkins, closing, cycles, okrs, tokens, webhooks
from bot.services.closing import CycleClosed
from bot.services.container import Services
from bot.services.exports import export_data, to_csv, to_yaml
from bot.services.imports import ImportReport, import_file
from bot.services.kpi_history import HistoryReport, import_history
from bot.services.tokens import IssuedToken, TokenInfo
from bot.services.webhooks import AddedWebhook, WebhookInfo
from bot.slackclient import api_session, make_client
from bot.warmup import warm_up
from scheduler import jobs as checkin_jobs
from scheduler.digest_jobs import send_digest_now, send_retrospectives, send_team_digest
from scheduler.runner import ScheduleRunner
from scheduler.scoring_jobs import send_scoring
from scheduler.source_jobs import pull_source
from scheduler.webhooks import WebhookSender
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Cycle, Workspace

GC_YOUNG_THRESHOLD = 20_000

log = logging.getLogger("okrbot")


async def open_database(settings: Settings) -> Database:
    """Connect, prove the database answers, and apply pending migrations."""
    database = Database.connect(settings.database_url)
    try:
        await database.ping()
    except Exception as exc:  # noqa: BLE001 - every driver fails differently; all mean "unreachable"
        await database.dispose()
        raise ConfigError("DATABASE_URL", f"cannot connect to the database ({exc})") from None
    await upgrade(database)
    return database


async def db_upgrade(settings: Settings) -> None:
    database = await open_database(settings)
    await database.dispose()


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run(settings: Settings, *, socket: bool | None, port: int | None) -> None:
    """Serve Slack (HTTP or Socket Mode) and run the scheduler in this one event loop."""
    use_socket = settings.slack_app_token is not None if socket is None else socket
    if use_socket and settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN", "is required for Socket Mode (an xapp-… token)")
    client = make_client(settings)
    database = await open_database(settings)
    warm_up()
    services = Services(settings=settings, database=database)
    services.readers.start(settings.okrbot_reader_processes)
    await _rehearse(services)
    app = build_app(settings, client=client, services=services, http=not use_socket)
    runner = ScheduleRunner(
        services,
        client,
        jobs={
            "digest": send_team_digest,
            "scoring": send_scoring,
            "retro": send_retrospectives,
            "pull": pull_source,
            **checkin_jobs.JOBS,
        },
    )
    await runner.start()
    sender = WebhookSender(services)
    sender.start()
    web = await serve(build_web_app(app, services), settings.host, port or settings.port)
    # Everything loaded so far lives as long as the process: keep the cyclic garbage collector
    # from walking it again on every full collection (long pauses under load otherwise).
    gc.freeze()
    # Collect the young generation every 20,000 new objects, not 700: a burst of 100 replies
    # made 2 collections (14-20 ms) instead of 82 (40 ms), for a few more MB held meanwhile.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    socket_handler = None
    if use_socket:
        token = settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
        socket_handler = AsyncSocketModeHandler(app, token)
        await socket_handler.connect_async()
    # Up and running: from here every Web API call reuses kept-alive connections (the start-up's
    # few opened their own), closed at the stop after the Home feed's last posts.
    client.session = api_session()
    services.closers.append(client.session.close)
    log.info(
        "okrbot is running (%s)",
        "Socket Mode" if use_socket else f"HTTP on port {port or settings.port}",
    )
    try:
        await _wait_for_signal()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()
        runner.stop()
        await web.cleanup()
        await sender.stop()
        await services.close()


async def _rehearse(services: Services) -> None:
    """A check-in reply recorded and rolled back before serving: a round's first burst of
    replies after a restart would otherwise compile and prepare every statement it needs."""
    try:
        await checkins.rehearse(
            database=services.database, now=services.clock(), readers=services.readers
        )
    except Exception:  # a start goes on without it: only the first burst is slower
        log.warning("could not rehearse a check-in reply", exc_info=True)


async def workspace_id_for(settings: Settings, database: Database, given: str | None) -> str:
    """The workspace a command acts on: given, the only one stored, or the token's own."""
    if given:
        return given
    async with database.session() as session:
        stored = (await session.exec(select(Workspace.id))).all()
    if len(stored) == 1:
        return stored[0]
    if settings.slack_bot_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN", "is needed to know the workspace (or pass --workspace T…)"
        )
    try:
        answer = await make_client(settings).auth_test()
    except SlackApiError as exc:
        raise ConfigError(
            "SLACK_BOT_TOKEN", f"Slack refused it ({exc.response['error']})"
        ) from None
    return str(answer["team_id"])


@asynccontextmanager
async def workspace_database(
    settings: Settings, workspace: str | None
) -> AsyncIterator[tuple[Database, str]]:
    """For a one-shot command: the database (migrated) and the workspace it acts on (see
    `workspace_id_for`), disposed of when the command is done."""
    database = await open_database(settings)
    try:
        yield database, await workspace_id_for(settings, database, workspace)
    finally:
        await database.dispose()


def email_resolver(client: AsyncWebClient):  # noqa: ANN201 - returns bot.services.imports.EmailResolver
    """Resolve e-mail addresses with `users.lookupByEmail`; unknown addresses give None."""

    async def resolve(email: str) -> str | None:
        try:
            answer = await client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        return str(answer["user"]["id"])

    return resolve


async def import_text(
    settings: Settings, text: str, *, filename: str, workspace: str | None
) -> ImportReport:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        resolver = email_resolver(make_client(settings)) if settings.slack_bot_token else None
        return await import_file(
            database=database,
            workspace_id=workspace_id,
            text=text,
            filename=filename,
            resolve_email=resolver,
        )


async def start_cycle(
    settings: Settings,
    *,
    name: str,
    start: dt.date,
    end: dt.date,
    scoring_days: int,
    workspace: str | None,
) -> Cycle:
    """`okrbot cycle start NAME --start D --end D`."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await cycles.start_cycle(
            database=database,
            workspace_id=workspace_id,
            name=name,
            start=start,
            end=end,
            scoring_days=scoring_days,
        )


async def close_cycle(
    settings: Settings, *, name: str, carry: Literal["unfinished", "none"], workspace: str | None
) -> tuple[CycleClosed, RetroReport | None]:
    """`okrbot cycle close NAME [--carry unfinished|none]`, then the retrospective digests it
    owes, when there is a Slack token to send them with (else `okrbot run` sends them)."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        closed = await closing.close_cycle(
            database=database, workspace_id=workspace_id, name=name, carry=carry
        )
        if settings.slack_bot_token is None:
            return closed, None
        services = Services(settings=settings, database=database)
        return closed, await send_retrospectives(services, make_client(settings))


async def export_text(settings: Settings, *, fmt: str, workspace: str | None) -> str:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        data = await export_data(database=database, workspace_id=workspace_id)
    return to_csv(data) if fmt == "csv" else to_yaml(data)


async def send_digest(settings: Settings, *, team: str, workspace: str | None) -> DigestReport:
    """`okrbot digest send --team NAME`: the team's digest to its managers and channel, now."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        found = await okrs.find_teams(
            database=database, workspace_id=workspace_id, user_id="", name=team
        )
        if len(found) != 1:
            names = ", ".join(t.name for t in found) or "none"
            raise NotFound(what=f"exactly one team called {team!r} (found: {names})")
        services = Services(settings=settings, database=database)
        report = await send_digest_now(services, make_client(settings), found[0])
    assert report is not None  # the team was just found
    return report


async def start_checkin(settings: Settings, *, team: str, workspace: str | None) -> tuple[str, int]:
    """`okrbot checkin start --team NAME`: open a round now and send its prompts; the team's
    name and how many prompts went out."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        found = await checkins.find_team(database=database, name=team, workspace_id=workspace_id)
        services = Services(settings=settings, database=database)
        work = await checkin_jobs.start_round(services, make_client(settings), found.id or 0)
        sent = await checkins.sent_count(database=database, round_id=work.round_id)
    return found.name, sent


async def create_api_token(
    settings: Settings, *, name: str, scopes: str, workspace: str | None
) -> IssuedToken:
    """`okrbot token create`: a new API token, returned once."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await tokens.create_token(
            database=database,
            workspace_id=workspace_id,
            name=name,
            scopes=tokens.parse_scopes(scopes),
        )


async def list_api_tokens(settings: Settings, *, workspace: str | None) -> list[TokenInfo]:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await tokens.list_tokens(database=database, workspace_id=workspace_id)


async def revoke_api_token(settings: Settings, *, name: str, workspace: str | None) -> None:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        await tokens.revoke_token(database=database, workspace_id=workspace_id, name=name)


async def import_kpi_history(
    settings: Settings, text: str, *, filename: str, workspace: str | None
) -> HistoryReport:
    """`okrbot kpi import FILE.csv`: KPI history, all or nothing."""
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await import_history(
            database=database, workspace_id=workspace_id, text=text, filename=filename
        )


async def add_webhook(
    settings: Settings, *, url: str, events: str, workspace: str | None
) -> AddedWebhook:
    """`okrbot webhook add URL --events …`: a new webhook; its secret is returned once."""
    wanted = webhooks.parse_events(events)
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await webhooks.add_webhook(
            database=database, workspace_id=workspace_id, url=url, events=wanted
        )


async def list_webhooks(settings: Settings, *, workspace: str | None) -> list[WebhookInfo]:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await webhooks.list_webhooks(database=database, workspace_id=workspace_id)


async def remove_webhook(settings: Settings, *, ref: str, workspace: str | None) -> str:
    async with workspace_database(settings, workspace) as (database, workspace_id):
        return await webhooks.remove_webhook(database=database, workspace_id=workspace_id, ref=ref)
