"""alignment and cycles

Team levels and parents; objective parents, weights and roll-up source; a cycle's scoring days.
Existing teams become level `team` with no parent; existing objectives serve nothing, weigh 1
and take their progress from their KRs, as before; existing cycles score in their last 7 days.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN with the reference inline: on SQLite a batch copy of `team` or
    # `objective` would have to drop a table other rows point to, which foreign keys forbid.
    op.add_column(
        "team",
        sa.Column(
            "level",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="team",
        ),
    )
    _add_parent("team")
    op.add_column(
        "cycle", sa.Column("scoring_days", sa.Integer(), nullable=False, server_default="7")
    )
    _add_parent("objective")
    op.add_column("objective", sa.Column("weight", sa.Float(), nullable=False, server_default="1"))
    op.add_column(
        "objective",
        sa.Column(
            "progress_from",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="krs",
        ),
    )


def _add_parent(table: str) -> None:
    """`parent_id` pointing into the same table, indexed, its foreign key named as the models
    name it (PostgreSQL adds it apart; SQLite only takes it inline)."""
    name = f"fk_{table}_parent_id_{table}"
    inline = op.get_bind().dialect.name == "sqlite"
    column = sa.Column(
        "parent_id",
        sa.Integer(),
        *([sa.ForeignKey(f"{table}.id", name=name)] if inline else []),
        nullable=True,
    )
    op.add_column(table, column, inline_references=inline)
    if not inline:
        op.create_foreign_key(name, table, table, ["parent_id"], ["id"])
    op.create_index(f"ix_{table}_parent_id", table, ["parent_id"])


def downgrade() -> None:
    # SQLite cannot drop a column that holds a foreign key, nor copy a table others point to
    # while foreign keys are enforced: refuse plainly rather than leave half a schema.
    if op.get_bind().dialect.name == "sqlite":
        raise NotImplementedError("revision 0006 (alignment) cannot be undone on SQLite")
    op.drop_index("ix_objective_parent_id", "objective")
    op.drop_constraint("fk_objective_parent_id_objective", "objective", type_="foreignkey")
    op.drop_column("objective", "progress_from")
    op.drop_column("objective", "weight")
    op.drop_column("objective", "parent_id")
    op.drop_index("ix_team_parent_id", "team")
    op.drop_constraint("fk_team_parent_id_team", "team", type_="foreignkey")
    op.drop_column("team", "parent_id")
    op.drop_column("team", "level")
    op.drop_column("cycle", "scoring_days")
