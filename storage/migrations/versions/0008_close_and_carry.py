"""closing cycles, scoring and carrying key results over

A cycle's `closed_at`; each objective's frozen progress, status and score; each KR's score and
retrospective line, its frozen progress and status, when it closed, and the KR it carries over.
The `scoringprompt` claims: one scoring DM per KR owner per cycle. Existing rows are open and
unscored: nothing is closed by the upgrade.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = sqlmodel.sql.sqltypes.AutoString(length=16)


def upgrade() -> None:
    op.add_column(
        "cycle", sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.add_column("objective", sa.Column("final_progress", sa.Float(), nullable=True))
    op.add_column("objective", sa.Column("final_status", _STATUS, nullable=True))
    op.add_column("objective", sa.Column("score", sa.Float(), nullable=True))
    op.add_column("keyresult", sa.Column("score", sa.Float(), nullable=True))
    op.add_column(
        "keyresult",
        sa.Column("score_note", sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=True),
    )
    op.add_column(
        "keyresult",
        sa.Column("score_suggested", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "keyresult", sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.add_column("keyresult", sa.Column("final_progress", sa.Float(), nullable=True))
    op.add_column("keyresult", sa.Column("final_status", _STATUS, nullable=True))
    _add_carried_from()
    _create_scoring_prompts()


def _create_scoring_prompts() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    when = sqlmodel.sql.sqltypes.UTCDateTime
    op.create_table(
        "scoringprompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", text(length=32), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("user_id", text(length=32), nullable=False),
        sa.Column("state", text(length=16), nullable=False),
        sa.Column("claimed_at", when(), nullable=False),
        sa.Column("renewed_at", when(), nullable=True),
        sa.Column("sent_at", when(), nullable=True),
        sa.Column("channel_id", text(length=32), nullable=True),
        sa.Column("message_ts", text(length=32), nullable=True),
        sa.Column("answered_at", when(), nullable=True),
        sa.Column("error", text(length=200), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycle.id"], name="fk_scoringprompt_cycle_id_cycle"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name="fk_scoringprompt_workspace_id_workspace"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scoringprompt"),
        sa.UniqueConstraint("cycle_id", "user_id", name="uq_scoringprompt_cycle_id_user_id"),
    )
    op.create_index("ix_scoringprompt_cycle_id", "scoringprompt", ["cycle_id"])
    op.create_index("ix_scoringprompt_user_id", "scoringprompt", ["user_id"])


def _add_carried_from() -> None:
    """`keyresult.carried_from_id`, indexed, its foreign key named as the models name it: inline
    on SQLite (a batch copy of `keyresult` would drop a table others point to), apart on
    PostgreSQL."""
    name = "fk_keyresult_carried_from_id_keyresult"
    inline = op.get_bind().dialect.name == "sqlite"
    column = sa.Column(
        "carried_from_id",
        sa.Integer(),
        *([sa.ForeignKey("keyresult.id", name=name)] if inline else []),
        nullable=True,
    )
    op.add_column("keyresult", column, inline_references=inline)
    if not inline:
        op.create_foreign_key(name, "keyresult", "keyresult", ["carried_from_id"], ["id"])
    op.create_index("ix_keyresult_carried_from_id", "keyresult", ["carried_from_id"])


def downgrade() -> None:
    # As 0006: SQLite cannot drop a column holding a foreign key; refuse plainly.
    if op.get_bind().dialect.name == "sqlite":
        raise NotImplementedError("revision 0008 (close and carry) cannot be undone on SQLite")
    op.drop_table("scoringprompt")
    op.drop_index("ix_keyresult_carried_from_id", "keyresult")
    op.drop_constraint("fk_keyresult_carried_from_id_keyresult", "keyresult", type_="foreignkey")
    for column in (
        "carried_from_id",
        "final_status",
        "final_progress",
        "closed_at",
        "score_suggested",
        "score_note",
        "score",
    ):
        op.drop_column("keyresult", column)
    for column in ("score", "final_status", "final_progress"):
        op.drop_column("objective", column)
    op.drop_column("cycle", "closed_at")
