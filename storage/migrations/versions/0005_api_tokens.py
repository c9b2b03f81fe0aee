"""API tokens, idempotency keys, and sources long enough for `api:NAME`

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_WIDENED = ("krupdate", "kpimeasurement")


def upgrade() -> None:
    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("name", _STRING(length=64), nullable=False),
        sa.Column("public_id", _STRING(length=32), nullable=False),
        sa.Column("salt", _STRING(length=64), nullable=False),
        sa.Column("secret_hash", _STRING(length=128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_apitoken_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apitoken")),
        sa.UniqueConstraint("public_id", name=op.f("uq_apitoken_public_id")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_apitoken_workspace_id_name")),
    )
    op.create_table(
        "apiidempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("key", _STRING(length=255), nullable=False),
        sa.Column("fingerprint", _STRING(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["apitoken.id"], name=op.f("fk_apiidempotency_token_id_apitoken")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_apiidempotency_workspace_id_workspace"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apiidempotency")),
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_apiidempotency_token_id_key")),
    )
    for table in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("source", type_=_STRING(length=72), existing_type=_STRING(length=16))


def downgrade() -> None:
    for table in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("source", type_=_STRING(length=16), existing_type=_STRING(length=72))
    op.drop_table("apiidempotency")
    op.drop_table("apitoken")
