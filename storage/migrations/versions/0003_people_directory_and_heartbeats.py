"""people directory, round heartbeats, renewable prompt and reminder claims

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peopledirectory",
        sa.Column("workspace_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("synced_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_peopledirectory_workspace_id_workspace"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_peopledirectory")),
    )
    with op.batch_alter_table("checkinround", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("checkinprompt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("renewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reminder_claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        # Existing rows have tried no reminder send this way; the default fills them in.
        batch_op.add_column(
            sa.Column("reminder_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("checkinprompt", schema=None) as batch_op:
        batch_op.drop_column("reminder_attempts")
        batch_op.drop_column("reminder_claimed_at")
        batch_op.drop_column("renewed_at")
    with op.batch_alter_table("checkinround", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
    op.drop_table("peopledirectory")
