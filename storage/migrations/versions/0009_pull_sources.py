"""KPI pull sources

A KPI's pull source (SPEC §9) as the import file gives it, and one row per KPI with a source
saying where it stands: the slot last claimed, failures in a row, the next retry, the last
error and what its owner was told. Existing KPIs have no source.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.add_column("kpi", sa.Column("source", sa.JSON(), nullable=True))
    op.create_table(
        "sourcestate",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", _STRING(length=32), nullable=False),
        sa.Column("claimed_slot", _TIME(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", _TIME(), nullable=True),
        sa.Column("error", _STRING(length=500), nullable=True),
        sa.Column("told", _STRING(length=8), nullable=True),
        sa.Column("pulled_at", _TIME(), nullable=True),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpi.id"], name=op.f("fk_sourcestate_kpi_id_kpi")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_sourcestate_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("kpi_id", name=op.f("pk_sourcestate")),
    )


def downgrade() -> None:
    op.drop_table("sourcestate")
    op.drop_column("kpi", "source")
