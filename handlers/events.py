"""Messages in the bot's DMs (check-in replies)."""

from __future__ import annotations

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import build_checkin_help
from handlers.common import caller

# Subtypes that are not a person writing to the bot; acknowledged and ignored.
IGNORED_SUBTYPES = {"bot_message", "message_deleted", "channel_join", "message_replied"}


def is_from_person(event: dict) -> bool:
    """True for a person's own DM message; False for bots (ours or others) and system messages."""
    if event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES:
        return False
    return event.get("channel_type") == "im" and bool(event.get("user"))


async def on_message(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Serves `message.im`: a person writing to okrbot in its DM."""
    if not is_from_person(event) or event.get("subtype"):
        return
    who = await caller(context, client, event["user"])
    message = build_checkin_help(who.locale)
    await client.chat_postMessage(
        channel=event["channel"], thread_ts=event["ts"], **message.as_kwargs()
    )


EVENTS = {"message": on_message}
