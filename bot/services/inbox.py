"""People's DMs to the bot, taken a batch at a time (`storage.db.Batches`): scores when they
answer the writer's open scoring DM, else check-in replies and their edits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.services import checkins, scoring
from bot.services.checkins import IncomingReply, ReplyResult
from bot.services.scoring import ScoresTaken
from storage.db import Database

Taken = ScoresTaken | ReplyResult | None


async def take_messages(
    *, database: Database, messages: Sequence[IncomingReply], now: dt.datetime
) -> list[Taken]:
    """What each message recorded, in order; None for a Slack retry, a message already
    recorded, or an edit that changed nothing. New check-in replies, the usual case in a
    burst, are recorded together in one write unit (`checkins.take_replies`)."""
    awaiting = await scoring.awaiting_scores(database, messages)
    taken: dict[int, Taken] = {}
    new = []
    for at, message in enumerate(messages):
        if (message.workspace_id, message.user_id) in awaiting:
            scored = await scoring.take_scores(database=database, message=message, now=now)
            if scored is not None:
                taken[at] = scored
                continue
        if message.edited:
            taken[at] = await checkins.retake_reply(database=database, message=message, now=now)
        else:
            new.append(at)
    replies = await checkins.take_replies(
        database=database, messages=[messages[at] for at in new], now=now
    )
    taken.update(zip(new, replies, strict=True))
    return [taken[at] for at in range(len(messages))]
