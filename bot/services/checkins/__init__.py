"""Check-in rounds (SPEC §4, §5): who is due a prompt, the exactly-once claims, what a prompt
lists, reading and recording a reply, reminders, closing, and `/okr away`.

Exactly-once rests on unique rows. A round is claimed by inserting (team, scheduled_for); a
prompt by inserting (round, member) *before* the DM is sent, then marked `sent` with its ts. A
crash between the two leaves a `claimed` row, which anyone may take back once its claim has not
been renewed for the lease (a conditional UPDATE decides who), so no prompt is lost. The lease
is short because a live sender renews it: every HEARTBEAT it bumps its round's `heartbeat_at`
and its claims' `renewed_at`, however long Slack keeps it waiting; a process killed -9 stops
beating, and its round is taken over within the lease. A sender killed after Slack accepted a
DM but before `sent` was written leaves such a claim too, and Slack has no idempotency key: so
the taker-over is handed the claim's first time (`Delivery.abandoned_at`) and first looks for
the prompt, by the id in its message metadata, in the member's DM since then
(`scheduler.jobs.post_prompt`); only when it is not there is it sent again. Claims are taken one
at a time just before each send, so only the requests in flight when a process dies are exposed.
Reminders are claimed the same way (`reminder_claimed_at`, renewed by the same heartbeat), marked
by `reminded_at` once sent, and tried a bounded number of times.
A reply's doubts become questions (`Ask`), each answered once by a tap (`answer_question`).
Nothing here talks to Slack: the jobs and handlers send, then report back.
"""

from bot.services.checkins.away import parse_until, set_away
from bot.services.checkins.members import as_listed, listing_of, member_items
from bot.services.checkins.model import (
    DEACTIVATED,
    GRACE,
    HEARTBEAT,
    LEASE,
    MAX_REMINDER_ATTEMPTS,
    MEMBER_TIMEZONE,
    MISSED_LOOKBACK,
    NO_ITEMS,
    OPEN_INITIATIVES,
    Answered,
    Ask,
    CheckinItem,
    Choice,
    Delivery,
    IncomingReply,
    Refusal,
    Reminder,
    ReplyResult,
    RoundWork,
)
from bot.services.checkins.prompts import (
    claim_prompt,
    mark_failed,
    mark_sent,
    prompt_now,
    reclaim_prompt,
    release_prompt,
    sent_count,
)
from bot.services.checkins.questions import answer_question
from bot.services.checkins.reminders import (
    close_rounds,
    due_reminders,
    mark_reminded,
    missed_slot,
    release_reminder,
)
from bot.services.checkins.replies import (
    ReplyReading,
    read_replies,
    rehearse,
    remember_answers,
    retake_reply,
    take_replies,
    take_reply,
)
from bot.services.checkins.rounds import (
    abandoned_teams,
    beat,
    due_rounds,
    find_team,
    members_without_timezone,
    open_round_now,
    release_round,
    team_workspace,
)
from bot.services.checkins.schedules import is_away, latest_slot, round_key

__all__ = [
    "DEACTIVATED",
    "GRACE",
    "HEARTBEAT",
    "LEASE",
    "MAX_REMINDER_ATTEMPTS",
    "MEMBER_TIMEZONE",
    "MISSED_LOOKBACK",
    "NO_ITEMS",
    "OPEN_INITIATIVES",
    "Answered",
    "Ask",
    "CheckinItem",
    "Choice",
    "Delivery",
    "IncomingReply",
    "Refusal",
    "Reminder",
    "ReplyReading",
    "ReplyResult",
    "RoundWork",
    "abandoned_teams",
    "answer_question",
    "as_listed",
    "beat",
    "claim_prompt",
    "close_rounds",
    "due_reminders",
    "due_rounds",
    "find_team",
    "is_away",
    "latest_slot",
    "listing_of",
    "mark_failed",
    "mark_reminded",
    "mark_sent",
    "member_items",
    "members_without_timezone",
    "missed_slot",
    "open_round_now",
    "parse_until",
    "prompt_now",
    "read_replies",
    "reclaim_prompt",
    "rehearse",
    "release_prompt",
    "release_reminder",
    "release_round",
    "remember_answers",
    "retake_reply",
    "round_key",
    "sent_count",
    "set_away",
    "take_replies",
    "take_reply",
    "team_workspace",
]
