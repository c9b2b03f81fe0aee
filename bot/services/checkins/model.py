"""What the edge gets back: the values jobs and handlers are handed, and shared constants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.domain import InitiativeStatus
from bot.errors import Closed
from bot.replies import Item, ItemKind
from bot.services.updates import (
    Change,
)

# A missed schedule is still opened on start within this window; older slots are skipped.
GRACE = dt.timedelta(hours=6)
# A live sender renews its round and its claims this often...
HEARTBEAT = dt.timedelta(seconds=5)
# ...so a round or a `claimed` prompt not renewed for this long was abandoned by a crashed
# sender and may be taken over (three missed beats, then some margin for a slow database).
LEASE = dt.timedelta(seconds=20)
# Sends of one reminder (each with the client's own retries) before it is given up.
MAX_REMINDER_ATTEMPTS = 5
# How far back the start-up catch-up looks for a missed slot worth mentioning in the log.
MISSED_LOOKBACK = dt.timedelta(days=8)
MEMBER_TIMEZONE = "member"
NO_ITEMS = "no_items"
DEACTIVATED = "deactivated"
OPEN_INITIATIVES = (InitiativeStatus.PLANNED, InitiativeStatus.IN_PROGRESS)


# -- what the edge gets back ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckinItem:
    """One numbered line of a member's check-in: what the prompt shows and a reply may change."""

    n: int
    kind: ItemKind
    ref_id: int
    title: str
    unit: str = ""
    short_id: str = ""
    aliases: tuple[str, ...] = ()
    last: float | None = None
    target: float | None = None
    progress: float | None = None
    exceeded: bool = False
    status: str | None = None
    period: str | None = None

    def for_reader(self) -> Item:
        """The item as the reply reader sees it."""
        status = self.status if self.kind == "initiative" else None
        return Item(self.n, self.kind, self.title, self.unit, self.aliases, self.last, status)


@dataclass(frozen=True)
class Delivery:
    """A prompt to send now: to whom, in which language (None: ask Slack), listing what.

    `prompt_id` and `round_id` name its claim (None outside a round). `abandoned_at` is set only
    on a take-over: when the claim was first taken, the earliest its DM may have reached Slack.
    `claimed_at` is that same first time, kept for a retry after a send whose fate is unknown."""

    prompt_id: int | None
    workspace_id: str
    user_id: str
    locale: str | None
    team_name: str
    items: tuple[CheckinItem, ...]
    round_id: int | None = None
    abandoned_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None


@dataclass(frozen=True)
class RoundWork:
    """What one sweep should send for one round: members now due, and abandoned claims."""

    round_id: int
    team_name: str
    due: tuple[tuple[str, dt.datetime], ...] = ()
    stale: tuple[int, ...] = ()
    workspace_id: str = ""


@dataclass(frozen=True)
class Reminder:
    """A reminder to send now. `check_since` is set when an earlier try may have reached Slack
    (the prompt's send time): the DM is looked at before sending again."""

    prompt_id: int
    workspace_id: str
    user_id: str
    locale: str | None
    team_name: str
    channel_id: str | None
    message_ts: str | None
    items: tuple[CheckinItem, ...]
    check_since: dt.datetime | None = None


@dataclass(frozen=True)
class IncomingReply:
    """A person's DM to the bot, as the event handler hands it over."""

    workspace_id: str
    user_id: str
    channel_id: str
    ts: str
    text: str
    event_id: str | None = None
    thread_ts: str | None = None
    edited: bool = False  # an edit of a message sent before


@dataclass(frozen=True)
class Choice:
    """One candidate answer to a question about a reply: what to record if the member taps
    it, named by the item's kind and id (its number in the prompt may change by then)."""

    reply_id: int
    question: int  # its place among the reply's questions
    kind: ItemKind
    ref_id: int
    title: str
    unit: str = ""
    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None
    version: int = 0  # which text of the reply it is about (an edit asks anew)


@dataclass(frozen=True)
class Ask:
    """A question to ask in a reply's thread (SPEC §5): the fragment the reader was not sure
    of, and a choice per likely reading; nothing of it is recorded until one is tapped."""

    reply_id: int
    question: int
    text: str
    choices: tuple[Choice, ...]
    version: int = 0


@dataclass(frozen=True)
class Refusal:
    """An item a reply would change but may not: its title, and the closed cycle's refusal
    when that is why (else it changed hands since the prompt)."""

    title: str
    closed: Closed | None = None


@dataclass(frozen=True)
class Answered:
    """What a tap on a question did: `recorded`, `declined` ("No"), `already` answered, or
    `stale` (about a reply since edited: the edit asked anew)."""

    outcome: str
    reply_id: int
    changes: tuple[Change, ...] = ()
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class ReplyResult:
    """What a reply recorded, for the confirmation in its thread."""

    reply_id: int
    round_id: int | None
    items: tuple[CheckinItem, ...]
    changes: tuple[Change, ...] = ()
    unread: tuple[str, ...] = ()
    skipped: bool = False
    no_change: bool = False
    refused: tuple[Refusal, ...] = ()
    answer_ts: str | None = None
    questions: tuple[Ask, ...] = ()

    @property
    def read_nothing(self) -> bool:
        """True when nothing in the reply could be used (it is answered with an example)."""
        return not (self.changes or self.skipped or self.no_change or self.questions)


@dataclass
class _Applied:
    changes: list[Change] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
