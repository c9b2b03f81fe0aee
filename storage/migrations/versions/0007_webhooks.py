"""outgoing webhooks and their outbox

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("url", _STRING(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", _STRING(length=64), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_webhook_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
        sa.UniqueConstraint("workspace_id", "url", name=op.f("uq_webhook_workspace_id_url")),
    )
    op.create_table(
        "webhookdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", _STRING(length=32), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event", _STRING(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("next_attempt_at", _TIME(), nullable=True),
        sa.Column("claimed_until", _TIME(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", _TIME(), nullable=True),
        sa.Column("failed_at", _TIME(), nullable=True),
        sa.Column("last_error", _STRING(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhook.id"], name=op.f("fk_webhookdelivery_webhook_id_webhook")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_webhookdelivery_workspace_id_workspace"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhookdelivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhookdelivery_delivery_id")),
    )
    op.create_index(
        op.f("ix_webhookdelivery_next_attempt_at"), "webhookdelivery", ["next_attempt_at"]
    )
    op.create_index(op.f("ix_webhookdelivery_webhook_id"), "webhookdelivery", ["webhook_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhookdelivery_webhook_id"), table_name="webhookdelivery")
    op.drop_index(op.f("ix_webhookdelivery_next_attempt_at"), table_name="webhookdelivery")
    op.drop_table("webhookdelivery")
    op.drop_table("webhook")
