"""The product's vocabulary, shared by storage, services and messages (no I/O here)."""

from enum import StrEnum

# The largest value (either sign) a KR or KPI holds: far beyond any real one, and within what
# floats keep exactly and the summaries format. Larger numbers are refused at every door.
VALUE_LIMIT = 1e15


class Role(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class InitiativeStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class Level(StrEnum):
    """A team's place in the organisation, top down."""

    COMPANY = "company"
    DEPARTMENT = "department"
    TEAM = "team"


class ProgressFrom(StrEnum):
    """What an objective's progress is the mean of: its KRs, its aligned objectives, or both."""

    KRS = "krs"
    CHILDREN = "children"
    BOTH = "both"


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
