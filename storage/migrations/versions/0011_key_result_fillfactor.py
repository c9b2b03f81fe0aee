"""key results updated in place

PostgreSQL only: `keyresult` keeps half of each page free (`fillfactor = 50`), so that a
check-in's new values (`current`, `confidence`, `status`, `updated_at`, none of them indexed)
are written beside the old row as heap-only tuples, without touching the table's seven indexes.
A burst of 50 replies updates 500 KRs in one statement: 23–26 ms of the server's time with full
pages, 5 ms with half-empty ones (issue #8). Pages written before this revision make room as
their rows are next moved or the table is rewritten (`VACUUM FULL keyresult`); no data changes.
SQLite has no such setting: nothing to do there.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE keyresult SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE keyresult RESET (fillfactor)")
