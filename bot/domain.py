"""The product's vocabulary, shared by storage, services and messages (no I/O here)."""

from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class InitiativeStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class Direction(StrEnum):
    HIGHER = "higher_is_better"
    LOWER = "lower_is_better"


class Period(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Source(StrEnum):
    """Where a change came from, shown in `/okr history`."""

    DM = "dm"
    COMMAND = "command"
    HOME = "home"
    KPI = "kpi"
    IMPORT = "import"
    UNDO = "undo"


class PromptState(StrEnum):
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    ANSWERED = "answered"
    SKIPPED = "skipped"
    AWAY = "away"
