"""Modal submissions: `/okr add`, `/kpi add`, `/okr close` and the App Home update modal.

Each is validated and stored before `ack()`, so a problem goes back into the modal next to
its field (`response_action="errors"`) and nothing is stored until everything is valid.
"""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.modals import parse_close_cycle, parse_kpi_add, parse_kr_update, parse_okr_add
from bot.blocks.updates import build_changes
from bot.domain import Source
from bot.errors import OkrbotError
from bot.i18n import t
from bot.importsummary import describe_close
from bot.notify import send_retros
from bot.services import closing, create, okrs, updates
from handlers.common import Caller, caller, services_of
from handlers.home import home_changed


async def _team_ids(context: AsyncBoltContext, who: Caller) -> set[int]:
    teams = await okrs.find_teams(
        database=services_of(context).database, workspace_id=who.workspace_id, user_id=who.user_id
    )
    return {team.id or 0 for team in teams}


def _field_error(error: OkrbotError, locale: str, block_id: str) -> dict[str, str]:
    return {block_id: t(locale, error.msgid, **error.params)}


async def okr_add(
    ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Submission of the `/okr add` modal: creates the objective and its key results."""
    who = await caller(context, client, body["user"]["id"])
    parsed = parse_okr_add(view["state"]["values"], await _team_ids(context, who), who.locale)
    if isinstance(parsed, dict):
        await ack(response_action="errors", errors=parsed)
        return
    try:
        numbers = await create.create_objective(
            database=services_of(context).database,
            workspace_id=who.workspace_id,
            user_id=who.user_id,
            new=parsed,
        )
    except OkrbotError as error:
        await ack(
            response_action="errors", errors=_field_error(error, who.locale, "objective_title")
        )
        return
    await ack()
    short_ids = ", ".join(f"KR-{number}" for number in numbers)
    text = t(
        who.locale,
        "Created *{title}* with {ids}.",
        title=parsed.title.replace("<", "&lt;"),
        ids=short_ids,
    )
    await client.chat_postMessage(channel=who.user_id, text=text)
    home_changed(context, who)


async def kpi_add(
    ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Submission of the `/kpi add` modal: creates the KPI."""
    who = await caller(context, client, body["user"]["id"])
    parsed = parse_kpi_add(view["state"]["values"], await _team_ids(context, who), who.locale)
    if isinstance(parsed, dict):
        await ack(response_action="errors", errors=parsed)
        return
    try:
        await create.create_kpi(
            database=services_of(context).database,
            workspace_id=who.workspace_id,
            user_id=who.user_id,
            new=parsed,
        )
    except OkrbotError as error:
        await ack(response_action="errors", errors=_field_error(error, who.locale, "kpi_name"))
        return
    await ack()
    text = t(
        who.locale,
        "Created the KPI *{name}*. Log a value with `/kpi log`.",
        name=parsed.name.replace("<", "&lt;"),
    )
    await client.chat_postMessage(channel=who.user_id, text=text)
    home_changed(context, who)


async def kr_update(
    ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Submission of the App Home update modal: records the KR's new value."""
    who = await caller(context, client, body["user"]["id"])
    parsed = parse_kr_update(view["state"]["values"], who.locale)
    if isinstance(parsed, dict):
        await ack(response_action="errors", errors=parsed)
        return
    value, confidence, note = parsed
    services = services_of(context)
    try:
        change = await updates.update_kr(
            database=services.database,
            actor=updates.Actor(who.workspace_id, who.user_id, Source.HOME),
            kr_id=int(json.loads(view["private_metadata"])["kr_id"]),
            value=value,
            confidence=confidence,
            note=note,
            now=services.clock(),
        )
    except OkrbotError as error:
        await ack(response_action="errors", errors=_field_error(error, who.locale, "kr_value"))
        return
    await ack()
    await client.chat_postMessage(
        channel=who.user_id, **build_changes([change], who.locale).as_kwargs()
    )
    home_changed(context, who)


async def cycle_close(
    ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Submission of the `/okr close` modal: closes the cycle, carrying the KRs ticked; the
    manager gets what it did (or why not) by DM, then the retrospective digests go out."""
    await ack()
    who = await caller(context, client, body["user"]["id"])
    services = services_of(context)
    try:
        closed = await closing.close_cycle(
            database=services.database,
            workspace_id=who.workspace_id,
            name=json.loads(view["private_metadata"])["cycle"],
            carry=parse_close_cycle(view["state"]["values"]),
            now=services.clock(),
            by=who.user_id,
        )
        text = describe_close(closed, who.locale)
    except OkrbotError as error:
        await client.chat_postMessage(
            channel=who.user_id, text=t(who.locale, error.msgid, **error.params)
        )
        return
    await client.chat_postMessage(channel=who.user_id, text=text)
    await send_retros(client, services)


VIEWS = {
    ids.VIEW_OKR_ADD: okr_add,
    ids.VIEW_KPI_ADD: kpi_add,
    ids.VIEW_KR_UPDATE: kr_update,
    ids.VIEW_CYCLE_CLOSE: cycle_close,
}
