"""Messages in the bot's DMs: check-in replies and their edits, and replies to the scoring DM,
answered in the reply's thread."""

from __future__ import annotations

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.checkin import build_confirmation
from bot.blocks.questions import build_question
from bot.blocks.scoring import build_scores_taken
from bot.notify import announce_kpi_changes
from bot.services import checkins, scoring
from bot.services.checkins import IncomingReply
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
    )


async def on_message(
    event: dict, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Serves `message.im`: a check-in reply (or its edit), or scores answering the scoring DM,
    recorded once and confirmed."""
    reply = incoming(event, body, context.team_id or context.enterprise_id or "")
    if reply is None:
        return
    who = await caller(context, client, reply.user_id)
    services = services_of(context)
    take = checkins.retake_reply if event.get("subtype") == EDITED else checkins.take_reply
    # Replies take turns with the commands that write, a few at a time, in arrival order: in
    # a burst the first are confirmed first, instead of all of them late together.
    async with services.writing:
        scored = await scoring.take_scores(
            database=services.database, message=reply, now=services.clock()
        )
        result = None
        if scored is None:
            result = await take(database=services.database, message=reply, now=services.clock())
    if scored is not None:
        answer = build_scores_taken(scored, who.locale)
        await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **answer.as_kwargs()
        )
        return
    if result is None:
        return  # a Slack retry, or an edit that changed nothing
    message = build_confirmation(result, who.locale, edited=event.get("subtype") == EDITED)
    if result.answer_ts:
        await client.chat_update(
            channel=reply.channel_id, ts=result.answer_ts, **message.as_kwargs()
        )
    else:
        answer = await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **message.as_kwargs()
        )
        await checkins.remember_answer(
            database=services.database, reply_id=result.reply_id, answer_ts=str(answer["ts"])
        )
    for ask in result.questions:  # SPEC §5: one question per doubt, in the reply's thread
        question = build_question(ask, who.locale)
        await client.chat_postMessage(
            channel=reply.channel_id, thread_ts=reply.ts, **question.as_kwargs()
        )
    await announce_kpi_changes(client, services, who.workspace_id, result.changes)


EVENTS = {"message": on_message}
