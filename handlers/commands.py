"""`/okr` and `/kpi` slash commands and the buttons on their answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.help import build_help
from bot.blocks.message import Message
from bot.blocks.status import build_status
from bot.i18n import N_, t
from bot.services import okrs
from bot.services.container import Services
from handlers.common import Caller, caller, services_of
from storage.models import Team

Subcommand = Callable[[Caller, str, AsyncBoltContext, AsyncRespond], Awaitable[None]]


def split_words(text: str) -> tuple[str, str]:
    """`"status Sales team"` -> `("status", "Sales team")`, the first word lower-cased."""
    word, _, rest = (text or "").strip().partition(" ")
    return word.lower(), rest.strip()


async def okr_status(
    who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """`/okr status [team]`: the objectives of the named team, the channel's, or the caller's."""
    services = services_of(context)
    teams = await okrs.find_teams(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        channel_id=context.channel_id,
        name=rest or None,
    )
    if not teams:
        key = (
            N_("I don't know a team called {name}.") if rest else N_("You are not in any team yet.")
        )
        await respond(text=t(who.locale, key, name=rest), response_type="ephemeral")
        return
    message = await _status_message(services, who, teams, shareable=True)
    await respond(**message.as_kwargs(), response_type="ephemeral")


async def _status_message(
    services: Services, who: Caller, teams: list[Team], *, shareable: bool
) -> Message:
    statuses = await okrs.team_status(
        database=services.database, workspace_id=who.workspace_id, teams=teams, now=services.clock()
    )
    return build_status(statuses, who.locale, shareable=shareable)


OKR_SUBCOMMANDS: dict[str, Subcommand] = {"status": okr_status}
KPI_SUBCOMMANDS: dict[str, Subcommand] = {}


async def _dispatch(
    table: dict[str, Subcommand],
    ack: AsyncAck,
    command: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    who = await caller(context, client, command["user_id"])
    word, rest = split_words(command.get("text", ""))
    handler = table.get(word)
    if handler is None:
        unknown = word if word and word != "help" else None
        await respond(
            **build_help(who.locale, unknown=unknown).as_kwargs(), response_type="ephemeral"
        )
        return
    await handler(who, rest, context, respond)


async def okr_command(
    ack: AsyncAck,
    command: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Serves `/okr …`."""
    await _dispatch(OKR_SUBCOMMANDS, ack, command, respond, client, context)


async def kpi_command(
    ack: AsyncAck,
    command: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """Serves `/kpi …`."""
    await _dispatch(KPI_SUBCOMMANDS, ack, command, respond, client, context)


async def share_status(
    ack: AsyncAck,
    body: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    """The *Share in channel* button under `/okr status`: posts the summary for everyone."""
    await ack()
    services = services_of(context)
    who = await caller(context, client, body["user"]["id"])
    wanted = {int(part) for part in body["actions"][0]["value"].split(",") if part.isdigit()}
    teams = await okrs.teams_by_id(
        database=services.database, workspace_id=who.workspace_id, team_ids=wanted
    )
    message = await _status_message(services, who, teams, shareable=False)
    await respond(**message.as_kwargs(), response_type="in_channel", delete_original=True)


COMMANDS = {"/okr": okr_command, "/kpi": kpi_command}
ACTIONS = {ids.SHARE_STATUS: share_status}
