"""staff, audit, hotline and case supervision

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=24), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_target_id"), ["target_id"], unique=False)

    op.create_table(
        "hotline_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_client")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_hotline_client_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_hotline_client_name")),
    )
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("squad_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", backend.db.UTCDateTime(), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("last_login_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["property_company.id"], name=op.f("fk_staff_user_company_id_property_company")
        ),
        sa.ForeignKeyConstraint(["squad_id"], ["squad.id"], name=op.f("fk_staff_user_squad_id_squad")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_user_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_user_squad_id"), ["squad_id"], unique=False)

    op.create_table(
        "case_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_extension_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["staff_user.id"], name=op.f("fk_case_extension_decided_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["staff_user.id"], name=op.f("fk_case_extension_requested_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_extension")),
    )
    with op.batch_alter_table("case_extension", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_extension_case_id"), ["case_id"], unique=False)

    op.create_table(
        "staff_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("squad_id", sa.Integer(), nullable=True),
        sa.Column("for_bureau", sa.Boolean(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("read_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_staff_notice_case_id_case_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["squad_id"], ["squad.id"], name=op.f("fk_staff_notice_squad_id_squad")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notice")),
    )
    with op.batch_alter_table("staff_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_notice_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_notice_for_bureau"), ["for_bureau"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_notice_squad_id"), ["squad_id"], unique=False)

    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("source_detail", sa.String(length=128), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("reporter_name", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("due_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("transferred_to", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("supervised", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("urge_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("due_soon_noticed_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("overdue_noticed_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", backend.db.UTCDateTime(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_case_file_handle_due_at"))
        batch_op.create_index(batch_op.f("ix_case_file_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_due_at"), ["due_at"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_case_file_source_external_ref"), ["source", "external_ref"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_case_file_assignee_id_staff_user"), "staff_user", ["assignee_id"], ["id"]
        )

    op.execute(
        "UPDATE case_file SET due_at = CASE"
        " WHEN status IN ('submitted', 'dispatched', 'returned') THEN sign_due_at"
        " WHEN status = 'signed' THEN onsite_due_at"
        " WHEN status IN ('investigating', 'verified', 'handling', 'transferred') THEN handle_due_at"
        " END"
    )


def downgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_case_file_assignee_id_staff_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_case_file_source_external_ref"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_case_file_due_at"))
        batch_op.drop_index(batch_op.f("ix_case_file_assignee_id"))
        batch_op.create_index(batch_op.f("ix_case_file_handle_due_at"), ["handle_due_at"], unique=False)
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("overdue_noticed_at")
        batch_op.drop_column("due_soon_noticed_at")
        batch_op.drop_column("urge_count")
        batch_op.drop_column("supervised")
        batch_op.drop_column("transferred_to")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("due_at")
        batch_op.drop_column("reporter_name")
        batch_op.drop_column("source_detail")
        batch_op.drop_column("external_ref")

    with op.batch_alter_table("staff_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_notice_squad_id"))
        batch_op.drop_index(batch_op.f("ix_staff_notice_for_bureau"))
        batch_op.drop_index(batch_op.f("ix_staff_notice_case_id"))

    op.drop_table("staff_notice")
    with op.batch_alter_table("case_extension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_extension_case_id"))

    op.drop_table("case_extension")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_user_squad_id"))
        batch_op.drop_index(batch_op.f("ix_staff_user_company_id"))

    op.drop_table("staff_user")
    op.drop_table("hotline_client")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_target_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")
