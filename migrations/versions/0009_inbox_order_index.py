"""the inbox's order in its index: a page of a squad's tab is read in the index's order, not sorted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:21:59
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index("ix_case_file_squad_inbox")
        batch_op.create_index(
            "ix_case_file_squad_inbox",
            ["squad_id", "status", "next_due_at", sa.literal_column("priority DESC"), "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index("ix_case_file_squad_inbox")
        batch_op.create_index("ix_case_file_squad_inbox", ["squad_id", "status", "next_due_at"], unique=False)
