"""`/okr` and `/kpi`: one dispatcher each, routing the first word to a subcommand.

An answer ready within ANSWER_BUDGET goes back in the HTTP acknowledgement itself; a later one
(a busy moment: the work waits its turn for the database, never fails for it) goes through the
response_url, after an acknowledgement saying that it is queued.
"""

from __future__ import annotations

import asyncio
from contextlib import nullcontext

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.help import build_help
from bot.i18n import N_, t
from bot.responder import AnswerInAck
from bot.services import okrs
from bot.services.okrs import KrView
from handlers import checkin, kpi, okr
from handlers.common import Caller, Subcommand, caller, services_of

# Slack (and Bolt) wait 3 s for the acknowledgement; past this the answer follows by
# response_url. The margin is for a loop stalled by a loaded machine: the ack must still land.
ANSWER_BUDGET = 1.0
QUEUED = N_("Busy moment: your request is queued, and my answer will follow here shortly.")

# Subcommands never queued behind the commands that write: those that only read, and `add`,
# whose modal must open within 3 s of its trigger.
WAIT_FOR_NOTHING = {"status", "tree", "mine", "help", "history", "add"}
# Subcommands whose writes take their turn a batch at a time (`Services.kr_updates`).
IN_BATCHES = {"update"}

OKR_SUBCOMMANDS: dict[str, Subcommand] = {**okr.SUBCOMMANDS, **checkin.SUBCOMMANDS}
KPI_SUBCOMMANDS: dict[str, Subcommand] = {**kpi.SUBCOMMANDS}


def split_words(text: str) -> tuple[str, str]:
    """`"status Sales team"` -> `("status", "Sales team")`, the first word lower-cased."""
    word, _, rest = (text or "").strip().partition(" ")
    return word.lower(), rest.strip()


async def _dispatch(
    table: dict[str, Subcommand],
    ack: AsyncAck,
    command: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    context["trigger_id"] = command.get("trigger_id")  # modals must open within 3 s of it
    answer = AnswerInAck(ack=ack, respond=respond)
    work = asyncio.create_task(_run_subcommand(table, command, answer, client, context))
    await asyncio.wait({work}, timeout=ANSWER_BUDGET)
    if not work.done():
        locale = context.get("locale") or services_of(context).settings.okrbot_locale
        await answer.ack_now(t(locale, QUEUED))
    elif work.exception() is not None:
        await answer.ack_now()  # the error handler answers through the response_url
    await work
    await answer.ack_now()  # a subcommand that only opened a modal or sent a DM


async def _run_subcommand(
    table: dict[str, Subcommand],
    command: dict,
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    word, rest = split_words(command.get("text", ""))
    handler = table.get(word)
    # Commands that write take turns a few at a time: a backlog of them would otherwise crowd
    # the event loop and keep reads (and the database's writer) waiting.
    writes = handler is not None and word not in WAIT_FOR_NOTHING | IN_BATCHES
    async with services_of(context).writing if writes else nullcontext():
        who = await caller(context, client, command["user_id"])
        if handler is None:
            unknown = word if word and word != "help" else None
            example = await _first_kr(who, context)
            help_message = build_help(who.locale, unknown=unknown, example=example)
            await respond(**help_message.as_kwargs(), response_type="ephemeral")
            return
        await handler(who, rest, context, respond)


async def _first_kr(who: Caller, context: AsyncBoltContext) -> KrView | None:
    """The caller's first KR of the current cycle, for the help's examples."""
    services = services_of(context)
    mine = await okrs.my_items(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        now=services.clock(),
    )
    return mine.key_results[0] if mine.key_results else None


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
    team_ids, _, cycle = body["actions"][0]["value"].partition("@")
    wanted = {int(part) for part in team_ids.split(",") if part.isdigit()}
    teams = await okrs.teams_by_id(
        database=services.database, workspace_id=who.workspace_id, team_ids=wanted
    )
    message = await okr.status_message(services, who, teams, shareable=False, cycle=cycle or None)
    await respond(**message.as_kwargs(), response_type="in_channel", delete_original=True)


COMMANDS = {"/okr": okr_command, "/kpi": kpi_command}
ACTIONS = {ids.SHARE_STATUS: share_status}
