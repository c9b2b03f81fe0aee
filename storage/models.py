"""Every table okrbot stores. Each row carries the Slack workspace id it belongs to.

Integrity lives in the schema: unique indexes are the claims that make imports idempotent and
check-in prompts exactly-once, so no service has to re-check what the database enforces.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.domain import Direction, InitiativeStatus, Level, Period, ProgressFrom, PromptState, Role

# Named constraints let Alembic alter them later (SQLite batch mode needs the names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A change's source: `dm`, `command`… or `api:NAME` for an API token's (names up to 64).
SOURCE_LENGTH = 72


def utcnow() -> dt.datetime:
    """Now, timezone-aware (SQLModel rejects naive datetimes)."""
    return dt.datetime.now(dt.UTC)


class Workspace(SQLModel, table=True):
    """A Slack workspace (team id `T…`) that installed okrbot."""

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Person(SQLModel, table=True):
    """A Slack user okrbot knows: language, timezone, and when they are away."""

    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    user_id: str = Field(max_length=32)
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    away_until: dt.date | None = None
    deactivated: bool = False
    # Set when the person first opens okrbot's Home tab: only their tab is kept fresh.
    home_opened_at: dt.datetime | None = None


class PeopleDirectory(SQLModel, table=True):
    """When okrbot last read a workspace's member list (`users.list`) into `Person`, and who is
    reading it now: a refresh is claimed by moving `claimed_at`, so replicas page it once."""

    workspace_id: str = Field(foreign_key="workspace.id", primary_key=True, max_length=32)
    claimed_at: dt.datetime | None = None
    synced_at: dt.datetime | None = None


class Cycle(SQLModel, table=True):
    """An OKR cycle such as `2026-Q4`: upcoming, open, scoring in its last `scoring_days`."""

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    name: str = Field(max_length=64)
    start: dt.date
    end: dt.date
    scoring_days: int = 7
    # Set once, by the unit of work that closes the cycle (`okrbot cycle close`, `/okr close`).
    closed_at: dt.datetime | None = None


class Team(SQLModel, table=True):
    """A team: its place in the organisation, its channel, its check-in and digest schedules."""

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    name: str = Field(max_length=200)
    channel_id: str | None = Field(default=None, max_length=32, index=True)
    checkin_schedule: str | None = Field(default=None, max_length=100)
    checkin_timezone: str | None = Field(default=None, max_length=64)
    remind_after_minutes: int = 240
    close_after_minutes: int = 1440
    digest_schedule: str | None = Field(default=None, max_length=100)
    level: str = Field(default=Level.TEAM, max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="team.id", index=True)


class Membership(SQLModel, table=True):
    """A person's place in a team, as member or manager (a person may be both)."""

    __table_args__ = (UniqueConstraint("team_id", "user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    team_id: int = Field(foreign_key="team.id", index=True)
    user_id: str = Field(max_length=32, index=True)
    role: str = Field(default=Role.MEMBER, max_length=16)


class Objective(SQLModel, table=True):
    """Where a team wants to go in a cycle; `O-{id}` to people.

    It may serve (align to) a `parent` objective of the same cycle, weighing `weight` in the
    parent's roll-up; `progress_from` says whether its own progress comes from its KRs, from the
    objectives that serve it, or from both.
    """

    __table_args__ = (UniqueConstraint("team_id", "cycle_id", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32, index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    cycle_id: int = Field(foreign_key="cycle.id")
    title: str = Field(max_length=300)
    owner_id: str | None = Field(default=None, max_length=32)
    position: int = 0
    parent_id: int | None = Field(default=None, foreign_key="objective.id", index=True)
    weight: float = 1.0
    progress_from: str = Field(default=ProgressFrom.KRS, max_length=16)
    # Frozen when its cycle closes: the roll-up's progress, its status, and its KRs' scores
    # rolled up the same way.
    final_progress: float | None = None
    final_status: str | None = Field(default=None, max_length=16)
    score: float | None = None


class Kpi(SQLModel, table=True):
    """A health metric a team watches every period."""

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    team_id: int = Field(foreign_key="team.id", index=True)
    name: str = Field(max_length=200)
    owner_id: str | None = Field(default=None, max_length=32)
    unit: str = Field(default="", max_length=32)
    direction: str = Field(default=Direction.HIGHER, max_length=24)
    target: float
    warn: float | None = None
    period: str = Field(default=Period.MONTHLY, max_length=16)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    alert_state: str | None = Field(default=None, max_length=8)
    # The pull source of SPEC §9 as the import file gives it (`{csv: URL, …}`), or None.
    source: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class KeyResult(SQLModel, table=True):
    """How a team will know it got there. `number` is the workspace-wide short id (`KR-7`).

    `current`, `confidence` and `status` mirror the latest update so summaries need no scan of
    the update history; the history itself lives in `KrUpdate`.
    """

    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        UniqueConstraint("objective_id", "title"),
        # Half of each page free on PostgreSQL: check-ins update KRs in place (migration 0011).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    number: int
    objective_id: int = Field(foreign_key="objective.id", index=True)
    title: str = Field(max_length=300)
    owner_id: str | None = Field(default=None, max_length=32, index=True)
    start: float
    target: float
    current: float
    unit: str = Field(default="", max_length=32)
    weight: float = 1.0
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kpi_id: int | None = Field(default=None, foreign_key="kpi.id", index=True)
    confidence: int | None = None
    status: str | None = Field(default=None, max_length=16)
    position: int = 0
    updated_at: dt.datetime = Field(default_factory=utcnow)
    # End of cycle (SPEC §8): the owner's score from 0 to 1 and retrospective line; at close,
    # a KR nobody scored keeps its suggested score, marked `score_suggested`.
    score: float | None = None
    score_note: str | None = Field(default=None, max_length=3000)
    score_suggested: bool = False
    # Frozen when its cycle closes; a closed KR takes no more updates.
    closed_at: dt.datetime | None = None
    final_progress: float | None = None
    final_status: str | None = Field(default=None, max_length=16)
    # The KR of an earlier cycle this one carries over.
    carried_from_id: int | None = Field(default=None, foreign_key="keyresult.id", index=True)


class Initiative(SQLModel, table=True):
    """What the team will do to move a key result."""

    __table_args__ = (UniqueConstraint("kr_id", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    kr_id: int = Field(foreign_key="keyresult.id", index=True)
    title: str = Field(max_length=300)
    owner_id: str | None = Field(default=None, max_length=32, index=True)
    status: str = Field(default=InitiativeStatus.PLANNED, max_length=16)
    position: int = 0


class KrUpdate(SQLModel, table=True):
    """One change to a key result, kept forever with who made it and from where."""

    __table_args__ = (Index("ix_krupdate_kr_created", "kr_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    kr_id: int = Field(foreign_key="keyresult.id")
    old_value: float | None = None
    new_value: float | None = None
    confidence: int | None = None
    status: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=3000)
    author_id: str | None = Field(default=None, max_length=32)
    source: str = Field(max_length=SOURCE_LENGTH)
    round_id: int | None = Field(default=None, foreign_key="checkinround.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="replymessage.id", index=True)
    message_ts: str | None = Field(default=None, max_length=32, index=True)
    reverted: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)


class InitiativeUpdate(SQLModel, table=True):
    """One change of an initiative's status."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    initiative_id: int = Field(foreign_key="initiative.id", index=True)
    old_status: str = Field(max_length=16)
    new_status: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=3000)
    author_id: str | None = Field(default=None, max_length=32)
    source: str = Field(max_length=16)
    round_id: int | None = Field(default=None, foreign_key="checkinround.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="replymessage.id", index=True)
    message_ts: str | None = Field(default=None, max_length=32, index=True)
    reverted: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)


class KpiMeasurement(SQLModel, table=True):
    """A KPI's value for one period (`2026-10`, `2026-W44`); the latest row per period counts."""

    __table_args__ = (Index("ix_kpimeasurement_kpi_period", "kpi_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    kpi_id: int = Field(foreign_key="kpi.id")
    period: str = Field(max_length=16)
    value: float
    note: str | None = Field(default=None, max_length=3000)
    author_id: str | None = Field(default=None, max_length=32)
    source: str = Field(max_length=SOURCE_LENGTH)
    round_id: int | None = Field(default=None, foreign_key="checkinround.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="replymessage.id", index=True)
    message_ts: str | None = Field(default=None, max_length=32, index=True)
    reverted: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)


class CheckinRound(SQLModel, table=True):
    """One scheduled check-in of a team; (team, scheduled_for) is the claim to open it."""

    __table_args__ = (UniqueConstraint("team_id", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    team_id: int = Field(foreign_key="team.id", index=True)
    scheduled_for: dt.datetime
    opened_at: dt.datetime = Field(default_factory=utcnow)
    closes_at: dt.datetime
    closed_at: dt.datetime | None = None
    # Bumped every few seconds by the process sending the round; others stay out while fresh.
    heartbeat_at: dt.datetime | None = None


class CheckinPrompt(SQLModel, table=True):
    """The DM asking one member for one round; (round, user) is the exactly-once claim."""

    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    round_id: int = Field(foreign_key="checkinround.id", index=True)
    user_id: str = Field(max_length=32, index=True)
    state: str = Field(default=PromptState.CLAIMED, max_length=16)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    due_at: dt.datetime | None = None
    claimed_at: dt.datetime = Field(default_factory=utcnow)
    # The claim's heartbeat: a `claimed` row not renewed within the lease was abandoned.
    renewed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    # A reminder being sent: its claim (renewed like a prompt's), and how many sends were tried.
    reminder_claimed_at: dt.datetime | None = None
    reminder_attempts: int = 0
    answered_at: dt.datetime | None = None
    error: str | None = Field(default=None, max_length=200)
    # The items the prompt listed, in its numbering (`members.listing_of`): a reply, a reminder
    # and a second `/okr checkin` number the member's items as the prompt did.
    listing: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ScoringPrompt(SQLModel, table=True):
    """The DM asking one KR owner to score a cycle's KRs (SPEC §8); (cycle, user) is the
    exactly-once claim, renewed while it is being sent like a check-in prompt's."""

    __table_args__ = (UniqueConstraint("cycle_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    user_id: str = Field(max_length=32, index=True)
    state: str = Field(default=PromptState.CLAIMED, max_length=16)
    claimed_at: dt.datetime = Field(default_factory=utcnow)
    renewed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    answered_at: dt.datetime | None = None
    error: str | None = Field(default=None, max_length=200)


class RetroDelivery(SQLModel, table=True):
    """One recipient's retrospective digest of a closed cycle for one team (SPEC §8): a team
    manager's DM or the team's channel. The unit of work that closes the cycle writes these
    rows `owed`, so a commit never loses its digest; a sender moves a row from `owed` to
    `claimed` with a conditional update (the claim), posts, then marks it `sent` (or `failed`
    when Slack refuses it for good). A row released after a passing Slack error is `owed`
    again, for the next run."""

    __table_args__ = (UniqueConstraint("cycle_id", "team_id", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    team_id: int = Field(foreign_key="team.id")
    recipient: str = Field(max_length=32)
    is_channel: bool = False
    state: str = Field(default="owed", max_length=16, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    claimed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    message_ts: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=200)


class ReplyMessage(SQLModel, table=True):
    """A person's DM to okrbot, read as a check-in reply; (channel, ts) dedupes Slack retries.

    Updates it recorded point back to it (`reply_id`), so an edit re-applies and *Undo* reverts
    exactly what this message changed.
    """

    __table_args__ = (UniqueConstraint("channel_id", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    channel_id: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    user_id: str = Field(max_length=32, index=True)
    text: str = Field(default="", max_length=40000)
    round_id: int | None = Field(default=None, foreign_key="checkinround.id", index=True)
    answer_ts: str | None = Field(default=None, max_length=32)
    received_at: dt.datetime = Field(default_factory=utcnow)
    edited_at: dt.datetime | None = None
    undone_at: dt.datetime | None = None


class DigestSent(SQLModel, table=True):
    """A managers' digest sent for one team and period; the unique row is the send claim.

    `snapshot` keeps the numbers the digest showed, so the next one can say what changed.
    """

    __table_args__ = (UniqueConstraint("team_id", "period", "manager_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    team_id: int = Field(foreign_key="team.id", index=True)
    period: str = Field(max_length=64)
    manager_id: str = Field(max_length=32)
    round_id: int | None = Field(default=None, foreign_key="checkinround.id")
    snapshot: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    claimed_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None
    message_ts: str | None = Field(default=None, max_length=32)


class SlackEvent(SQLModel, table=True):
    """Event ids already handled, so a retried delivery records nothing twice."""

    event_id: str = Field(primary_key=True, max_length=64)
    workspace_id: str = Field(max_length=32)
    received_at: dt.datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A token for the HTTP API (SPEC §9). The secret is never stored: only its scrypt hash.

    A token reads `okr_<public_id>_<secret>`; `public_id` finds the one row to check, so a
    request costs one slow hash, not one per stored token.
    """

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    name: str = Field(max_length=64)
    public_id: str = Field(max_length=32, unique=True)
    salt: str = Field(max_length=64)
    secret_hash: str = Field(max_length=128)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class ApiIdempotency(SQLModel, table=True):
    """The first answer to a write sent with an `Idempotency-Key`, stored in the same unit of
    work as the write itself: (token, key) is the claim, so a repeat stores nothing more."""

    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    token_id: int = Field(foreign_key="apitoken.id")
    key: str = Field(max_length=255)
    # What was asked (method, path, body), so the same key on another request is refused.
    fingerprint: str = Field(max_length=64)
    status: int
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)


class Webhook(SQLModel, table=True):
    """An outgoing webhook (SPEC §9): the URL that hears which events, signed with `secret`.

    HMAC needs the secret itself, so it is stored as given (printed once, never listed)."""

    __table_args__ = (UniqueConstraint("workspace_id", "url"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """The outbox: one event for one webhook, written in the same unit of work as the change
    that caused it, so a commit never loses its event.

    `next_attempt_at` is set while the delivery is pending and cleared once it was accepted or
    given up; a sender claims a due row by moving `claimed_until` (its lease) forward, so two
    replicas never post the same delivery at once. `delivery_id` is sent with every attempt:
    receivers drop repeats by it."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=32, unique=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    webhook_id: int = Field(foreign_key="webhook.id", index=True)
    event: str = Field(max_length=32)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)
    next_attempt_at: dt.datetime | None = Field(default=None, index=True)
    claimed_until: dt.datetime | None = None
    attempts: int = 0
    delivered_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    last_error: str | None = Field(default=None, max_length=200)


class SourceState(SQLModel, table=True):
    """Where a KPI's pull source stands (SPEC §9). `claimed_slot` is the latest schedule slot
    (or retry time) a replica took: a conditional update moves it forward, so each slot is
    pulled once across replicas. `told` is the state the KPI's owner last heard of (`failing`
    or `ok`), claimed the same way, so a failing source is told once and its recovery once."""

    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True)
    workspace_id: str = Field(foreign_key="workspace.id", max_length=32)
    claimed_slot: dt.datetime | None = None
    failures: int = 0
    retry_at: dt.datetime | None = None
    error: str | None = Field(default=None, max_length=500)
    told: str | None = Field(default=None, max_length=8)
    pulled_at: dt.datetime | None = None
