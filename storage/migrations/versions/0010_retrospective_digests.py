"""retrospective digests

The `retrodelivery` outbox: one row per (closed cycle, team, recipient) written by the unit of
work that closes a cycle, claimed and marked as each retrospective digest goes out. Cycles
closed before this revision owe none: the upgrade writes no rows.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "retrodelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("recipient", _STRING(length=32), nullable=False),
        sa.Column("is_channel", sa.Boolean(), nullable=False),
        sa.Column("state", _STRING(length=16), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("claimed_at", _TIME(), nullable=True),
        sa.Column("sent_at", _TIME(), nullable=True),
        sa.Column("message_ts", _STRING(length=32), nullable=True),
        sa.Column("error", _STRING(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_retrodelivery_cycle_id_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_retrodelivery_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_retrodelivery_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrodelivery")),
        sa.UniqueConstraint(
            "cycle_id",
            "team_id",
            "recipient",
            name=op.f("uq_retrodelivery_cycle_id_team_id_recipient"),
        ),
    )
    op.create_index("ix_retrodelivery_cycle_id", "retrodelivery", ["cycle_id"])
    op.create_index("ix_retrodelivery_state", "retrodelivery", ["state"])


def downgrade() -> None:
    op.drop_table("retrodelivery")
