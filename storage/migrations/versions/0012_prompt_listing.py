"""what each check-in prompt listed

`checkinprompt.listing`: the items a prompt listed, in the order it numbered them (`"kr:12"`,
`"kpi:3"`, `"initiative:7"`), so that a reply's "3: 1240" lands on the prompt's item 3 even when
the member's KRs changed since (one added, closed or handed over). Prompts claimed before this
revision have none and are read against the items as numbered now, as before.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkinprompt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("listing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkinprompt", schema=None) as batch_op:
        batch_op.drop_column("listing")
