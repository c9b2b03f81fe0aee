"""Messages in the bot's DMs: check-in replies and their edits, and replies to the scoring DM,
answered in the reply's thread."""

from __future__ import annotations

import asyncio

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.checkin import build_confirmation
from bot.blocks.questions import build_question
from bot.blocks.scoring import build_scores_taken
from bot.notify import announce_kpi_changes
from bot.services.checkins import IncomingReply
from bot.services.scoring import ScoresTaken
from handlers.common import caller, services_of

# Subtypes that are not a person writing to the bot; acknowledged and ignored.
IGNORED_SUBTYPES = {"bot_message", "message_deleted", "channel_join", "message_replied"}
EDITED = "message_changed"


def is_from_person(event: dict) -> bool:
    """True for a person's own DM message; False for bots (ours or others) and system messages."""
    if event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES:
        return False
    return event.get("channel_type") == "im" and bool(event.get("user"))


def incoming(event: dict, body: dict, team_id: str) -> IncomingReply | None:
    """The person's message in a DM event (new or edited), or None for anything else."""
    if event.get("subtype") == EDITED:
        message = {**(event.get("message") or {}), "channel_type": event.get("channel_type")}
    elif not event.get("subtype"):
        message = event
    else:
        return None
    if not is_from_person(message) or message.get("subtype"):
        return None
    return IncomingReply(
        workspace_id=team_id,
        user_id=message["user"],
        channel_id=event["channel"],
        ts=message["ts"],
        text=message.get("text") or "",
        event_id=body.get("event_id"),
        thread_ts=message.get("thread_ts"),
        edited=event.get("subtype") == EDITED,
    )


async def on_message(
    event: dict, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Serves `message.im`: a check-in reply (or its edit), or scores answering the scoring DM,
    recorded once and confirmed."""
    reply = incoming(event, body, context.team_id or context.enterprise_id or "")
    if reply is None:
        return
    services = services_of(context)
    # The writer's language (for the answer) is looked up while the DM is read and recorded.
    who, result = await asyncio.gather(
        caller(context, client, reply.user_id), services.take_dm(reply)
    )
    if isinstance(result, ScoresTaken):
        answer = build_scores_taken(result, who.locale)
        await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **answer.as_kwargs()
        )
        return
    if result is None:
        return  # a Slack retry, or an edit that changed nothing
    message = build_confirmation(result, who.locale, edited=reply.edited)
    if result.answer_ts:
        await client.chat_update(
            channel=reply.channel_id, ts=result.answer_ts, **message.as_kwargs()
        )
    else:
        answer = await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **message.as_kwargs()
        )
        await services.answers.submit((result.reply_id, str(answer["ts"])))
    for ask in result.questions:  # SPEC §5: one question per doubt, in the reply's thread
        question = build_question(ask, who.locale)
        await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **question.as_kwargs()
        )
    if any(change.alert for change in result.changes):
        # After the burst of replies it came in: confirmations come first.
        await services.notices.submit(
            lambda: announce_kpi_changes(client, services, who.workspace_id, result.changes)
        )


EVENTS = {"message": on_message}
