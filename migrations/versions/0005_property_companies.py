"""property companies: estates they manage, staff binding, renovations, patrols, duty checks

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:02:55.745649
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "estate_management",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["property_company.id"],
            name=op.f("fk_estate_management_company_id_property_company"),
        ),
        sa.ForeignKeyConstraint(
            ["estate_id"],
            ["estate.id"],
            name=op.f("fk_estate_management_estate_id_estate"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estate_management")),
    )
    with op.batch_alter_table("estate_management", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_estate_management_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_estate_management_estate_id"), ["estate_id"], unique=False)

    op.create_table(
        "patrol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("patroller_id", sa.Integer(), nullable=True),
        sa.Column("patrolled_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("client_request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["property_company.id"], name=op.f("fk_patrol_company_id_property_company")
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_patrol_estate_id_estate")),
        sa.ForeignKeyConstraint(
            ["patroller_id"], ["staff_user.id"], name=op.f("fk_patrol_patroller_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol")),
        sa.UniqueConstraint(
            "patroller_id", "client_request_id", name=op.f("uq_patrol_patroller_id_client_request_id")
        ),
    )
    with op.batch_alter_table("patrol", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_estate_id"), ["estate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_patrolled_at"), ["patrolled_at"], unique=False)

    op.create_table(
        "renovation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("building", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("owner_name", sa.String(length=64), nullable=False),
        sa.Column("owner_phone", sa.String(length=20), nullable=False),
        sa.Column("contractor", sa.String(length=128), nullable=False),
        sa.Column("contractor_phone", sa.String(length=20), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("permits", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("client_request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("completed_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["property_company.id"], name=op.f("fk_renovation_company_id_property_company")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_user.id"], name=op.f("fk_renovation_created_by_staff_user")
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_renovation_estate_id_estate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation")),
        sa.UniqueConstraint(
            "created_by", "client_request_id", name=op.f("uq_renovation_created_by_client_request_id")
        ),
    )
    with op.batch_alter_table("renovation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renovation_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_renovation_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_renovation_estate_id"), ["estate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_renovation_status"), ["status"], unique=False)

    op.create_table(
        "staff_binding_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_binding_code_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_binding_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_staff_binding_code_code_hash")),
    )
    with op.batch_alter_table("staff_binding_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_binding_code_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "patrol_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("building", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("common_area", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("found_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("rectified_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("reported_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("renovation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_patrol_finding_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["category_code"], ["category.code"], name=op.f("fk_patrol_finding_category_code_category")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["property_company.id"],
            name=op.f("fk_patrol_finding_company_id_property_company"),
        ),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_patrol_finding_estate_id_estate")
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrol.id"], name=op.f("fk_patrol_finding_patrol_id_patrol"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["renovation_id"], ["renovation.id"], name=op.f("fk_patrol_finding_renovation_id_renovation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_finding")),
    )
    with op.batch_alter_table("patrol_finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_finding_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_finding_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_finding_estate_id"), ["estate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_finding_found_at"), ["found_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_finding_patrol_id"), ["patrol_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_finding_renovation_id"), ["renovation_id"], unique=False)

    op.create_table(
        "renovation_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("renovation_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["renovation_id"],
            ["renovation.id"],
            name=op.f("fk_renovation_event_renovation_id_renovation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation_event")),
    )
    with op.batch_alter_table("renovation_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_event_renovation_id"), ["renovation_id"], unique=False
        )

    op.create_table(
        "duty_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=True),
        sa.Column("renovation_id", sa.Integer(), nullable=True),
        sa.Column("knew", sa.Boolean(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("reported_in_time", sa.Boolean(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("negligence_case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_duty_check_case_id_case_file"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["property_company.id"], name=op.f("fk_duty_check_company_id_property_company")
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["patrol_finding.id"], name=op.f("fk_duty_check_finding_id_patrol_finding")
        ),
        sa.ForeignKeyConstraint(
            ["negligence_case_id"], ["case_file.id"], name=op.f("fk_duty_check_negligence_case_id_case_file")
        ),
        sa.ForeignKeyConstraint(
            ["renovation_id"], ["renovation.id"], name=op.f("fk_duty_check_renovation_id_renovation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_check")),
        sa.UniqueConstraint("case_id", name=op.f("uq_duty_check_case_id")),
    )
    with op.batch_alter_table("duty_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_check_company_id"), ["company_id"], unique=False)

    with op.batch_alter_table("property_company", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_code", sa.String(length=18), nullable=True))
        batch_op.add_column(
            sa.Column("contact_name", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("contact_phone", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_unique_constraint(batch_op.f("uq_property_company_credit_code"), ["credit_code"])

    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("company_manager", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("wechat_user_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_user_wechat_user_id"), ["wechat_user_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_user_wechat_user_id_app_user"),
            "app_user",
            ["wechat_user_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # the company an estate names today has managed it since the estate was recorded, as far as we know
    op.execute(
        "INSERT INTO estate_management (estate_id, company_id, started_on, created_at)"
        " SELECT id, property_company_id, DATE(created_at), created_at FROM estate"
        " WHERE property_company_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_user_wechat_user_id_app_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_staff_user_wechat_user_id"), type_="unique")
        batch_op.drop_column("wechat_user_id")
        batch_op.drop_column("company_manager")

    with op.batch_alter_table("property_company", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_property_company_credit_code"), type_="unique")
        batch_op.drop_column("active")
        batch_op.drop_column("address")
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("contact_name")
        batch_op.drop_column("credit_code")

    with op.batch_alter_table("duty_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_check_company_id"))

    op.drop_table("duty_check")
    with op.batch_alter_table("renovation_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_event_renovation_id"))

    op.drop_table("renovation_event")
    with op.batch_alter_table("patrol_finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_finding_renovation_id"))
        batch_op.drop_index(batch_op.f("ix_patrol_finding_patrol_id"))
        batch_op.drop_index(batch_op.f("ix_patrol_finding_found_at"))
        batch_op.drop_index(batch_op.f("ix_patrol_finding_estate_id"))
        batch_op.drop_index(batch_op.f("ix_patrol_finding_company_id"))
        batch_op.drop_index(batch_op.f("ix_patrol_finding_case_id"))

    op.drop_table("patrol_finding")
    with op.batch_alter_table("staff_binding_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_binding_code_staff_id"))

    op.drop_table("staff_binding_code")
    with op.batch_alter_table("renovation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_status"))
        batch_op.drop_index(batch_op.f("ix_renovation_estate_id"))
        batch_op.drop_index(batch_op.f("ix_renovation_created_at"))
        batch_op.drop_index(batch_op.f("ix_renovation_company_id"))

    op.drop_table("renovation")
    with op.batch_alter_table("patrol", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_patrolled_at"))
        batch_op.drop_index(batch_op.f("ix_patrol_estate_id"))
        batch_op.drop_index(batch_op.f("ix_patrol_company_id"))

    op.drop_table("patrol")
    with op.batch_alter_table("estate_management", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estate_management_estate_id"))
        batch_op.drop_index(batch_op.f("ix_estate_management_company_id"))

    op.drop_table("estate_management")
