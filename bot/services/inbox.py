"""People's DMs to the bot, taken a batch at a time (`storage.db.Batches`): scores when they
answer the writer's open scoring DM, else check-in replies and their edits.

A batch goes through two stages: `read_messages` (the members' items and the reader), which
for the next batch runs while this one is recorded, then `take_messages` (one write unit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.services import checkins, scoring
from bot.services.checkins import IncomingReply, ReplyReading, ReplyResult
from bot.services.readers import HERE, Readers
from bot.services.scoring import ScoresTaken
from storage.db import Database

Taken = ScoresTaken | ReplyResult | None


async def read_messages(
    *, database: Database, messages: Sequence[IncomingReply], now: dt.datetime, readers: Readers
) -> list[ReplyReading | None]:
    """New DMs read ahead of their recording, in one read unit; None for an edit (its reading
    needs the message it replaces, read when it is recorded)."""
    new = [at for at, message in enumerate(messages) if not message.edited]
    read = await checkins.read_replies(database, [messages[at] for at in new], now, readers)
    found = dict(zip(new, read, strict=True))
    return [found.get(at) for at in range(len(messages))]


async def take_messages(
    *,
    database: Database,
    messages: Sequence[IncomingReply],
    now: dt.datetime,
    readers: Readers = HERE,
    readings: Sequence[ReplyReading | None] = (),
) -> list[Taken]:
    """What each message recorded, in order; None for a Slack retry, a message already
    recorded, or an edit that changed nothing. New check-in replies, the usual case in a
    burst, are recorded together in one write unit (`checkins.take_replies`), with the
    `readings` read ahead (by position; a new message without one is read now)."""
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
            taken[at] = await checkins.retake_reply(
                database=database, message=message, now=now, readers=readers
            )
        else:
            new.append(at)
    ahead = {at: reading for at, reading in enumerate(readings) if reading is not None}
    unread = [at for at in new if at not in ahead]
    read = await checkins.read_replies(database, [messages[at] for at in unread], now, readers)
    ahead.update(zip(unread, read, strict=True))
    replies = await checkins.take_replies(
        database=database,
        messages=[messages[at] for at in new],
        now=now,
        readers=readers,
        readings=[ahead[at] for at in new],
    )
    taken.update(zip(new, replies, strict=True))
    return [taken[at] for at in range(len(messages))]
