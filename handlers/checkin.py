"""Check-ins on demand: `/okr checkin`, `/okr away <until>`, the *Undo* button under a
check-in confirmation, and the buttons under a question about a reply."""

from __future__ import annotations

import dataclasses

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.checkin import build_undone
from bot.blocks.questions import build_answered, parse_pick
from bot.domain import Source
from bot.i18n import format_day, t
from bot.notify import announce_kpi_changes
from bot.services import checkins, people, updates
from handlers.common import Caller, Subcommand, caller, services_of
from scheduler.jobs import post_prompt

RESUME_WORDS = {"off", "back", "none", "stop", "selesai", "kembali", "batal"}


async def checkin_now(
    who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """`/okr checkin`: the caller's check-in prompt, in their DM, now."""
    services = services_of(context)
    delivery = await checkins.prompt_now(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        now=services.clock(),
    )
    if not delivery.items:
        text = t(who.locale, "You have no key results, KPIs or open initiatives to check in on.")
    elif await post_prompt(
        services, context.client, dataclasses.replace(delivery, locale=who.locale)
    ):
        text = t(who.locale, "I sent your check-in to our DM. Reply there.")
    else:
        text = t(who.locale, "I couldn't send your check-in just now. Please try again later.")
    await respond(text=text, response_type="ephemeral")


async def away(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr away <until>`: pauses the caller's prompts and reminders until a date (`off` ends
    the pause)."""
    services = services_of(context)
    timezone = await people.known_timezone(
        database=services.database, workspace_id=who.workspace_id, user_id=who.user_id
    )
    today = people.local_today(timezone, services.clock())
    if rest.strip().lower() in RESUME_WORDS:
        until, text = None, t(who.locale, "Welcome back: your check-ins are on again.")
    else:
        until = checkins.parse_until(rest, today)
        if until is None or until < today:
            text = t(
                who.locale,
                "Tell me until when, e.g. `/okr away 2026-12-01` or `/okr away Dec 1`. "
                "`/okr away off` turns check-ins back on.",
            )
            await respond(text=text, response_type="ephemeral")
            return
        text = t(
            who.locale,
            "No check-in prompts or reminders until {day}. `/okr away off` turns them back on.",
            day=format_day(until, who.locale),
        )
    await checkins.set_away(
        database=services.database, workspace_id=who.workspace_id, user_id=who.user_id, until=until
    )
    await respond(text=text, response_type="ephemeral")


async def undo(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The *Undo* button under a check-in confirmation: reverts exactly that reply's updates."""
    await ack()
    value = str(body["actions"][0].get("value") or "")
    if not value.isdigit():
        return
    who = await caller(context, client, body["user"]["id"])
    services = services_of(context)
    actor = updates.Actor(who.workspace_id, who.user_id, Source.UNDO)
    changes = await updates.undo_reply(database=services.database, actor=actor, reply_id=int(value))
    container = body.get("container") or {}
    message = build_undone(changes, who.locale)
    await client.chat_update(
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id"),
        ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
        **message.as_kwargs(),
    )
    await announce_kpi_changes(client, services, who.workspace_id, changes)


async def pick(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """A button under a question about a check-in reply: records that reading (or nothing, for
    *No*) and answers in place, in the thread."""
    await ack()
    chosen = parse_pick(str(body["actions"][0].get("value") or ""))
    if chosen is None:
        return
    who = await caller(context, client, body["user"]["id"])
    services = services_of(context)
    answered = await checkins.answer_question(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        reply_id=chosen.reply_id,
        question=chosen.question,
        version=chosen.version,
        choice=chosen.choice,
        now=services.clock(),
    )
    if answered.outcome == "already":
        return  # a second tap: the first one answered
    container = body.get("container") or {}
    await client.chat_update(
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id"),
        ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
        **build_answered(answered, chosen, who.locale).as_kwargs(),
    )
    await announce_kpi_changes(client, services, who.workspace_id, answered.changes)


SUBCOMMANDS: dict[str, Subcommand] = {"checkin": checkin_now, "away": away}
ACTIONS = {ids.CHECKIN_UNDO: undo, ids.CHECKIN_NONE: pick} | dict.fromkeys(ids.CHECKIN_PICKS, pick)
