"""the on-site clock of 上海市拆除违法建筑若干规定 第七条, beside the stage deadline

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONSITE_STATES = "('submitted', 'dispatched', 'signed', 'investigating', 'returned')"


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_due_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("onsite_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("onsite_due_soon_noticed_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("onsite_overdue_noticed_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("onsite_escalated_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_case_file_next_due_at"), ["next_due_at"], unique=False)

    # A signed case's stage is now handling (being on site is a clock of its own); a case that was already
    # investigated or found has met its on-site clock when that step was taken.
    op.execute("UPDATE case_file SET due_at = handle_due_at WHERE status = 'signed'")
    op.execute(
        "UPDATE case_file SET onsite_at = (SELECT MIN(e.created_at) FROM case_event e"
        " WHERE e.case_id = case_file.id AND e.action IN ('investigate', 'verify', 'mark_unfounded'))"
    )
    op.execute(
        "UPDATE case_file SET next_due_at = CASE"
        f" WHEN onsite_at IS NULL AND status IN {_ONSITE_STATES} AND onsite_due_at IS NOT NULL"
        " AND (due_at IS NULL OR onsite_due_at < due_at) THEN onsite_due_at ELSE due_at END"
    )


def downgrade() -> None:
    op.execute("UPDATE case_file SET due_at = onsite_due_at WHERE status = 'signed'")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_next_due_at"))
        batch_op.drop_column("onsite_escalated_at")
        batch_op.drop_column("onsite_overdue_noticed_at")
        batch_op.drop_column("onsite_due_soon_noticed_at")
        batch_op.drop_column("onsite_at")
        batch_op.drop_column("next_due_at")
