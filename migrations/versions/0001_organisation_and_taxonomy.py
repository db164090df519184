"""organisation and taxonomy

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category_group",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_category_group")),
    )
    op.create_table(
        "property_company",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_property_company")),
        sa.UniqueConstraint("name", name=op.f("uq_property_company_name")),
    )
    op.create_table(
        "town",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_town")),
        sa.UniqueConstraint("code", name=op.f("uq_town_code")),
        sa.UniqueConstraint("name", name=op.f("uq_town_name")),
    )
    op.create_table(
        "category",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("group_code", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sign_working_days", sa.Integer(), nullable=True),
        sa.Column("onsite_hours", sa.Integer(), nullable=True),
        sa.Column("onsite_hours_in_progress", sa.Integer(), nullable=True),
        sa.Column("handle_working_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_code"], ["category_group.code"], name=op.f("fk_category_group_code_category_group")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_category")),
    )
    op.create_table(
        "estate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("is_key", sa.Boolean(), nullable=False),
        sa.Column("property_company_id", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_company_id"],
            ["property_company.id"],
            name=op.f("fk_estate_property_company_id_property_company"),
        ),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_estate_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estate")),
        sa.UniqueConstraint("town_id", "name", name=op.f("uq_estate_town_id_name")),
    )
    with op.batch_alter_table("estate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_estate_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_estate_town_id"), ["town_id"], unique=False)

    op.create_table(
        "squad",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_squad_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_squad")),
        sa.UniqueConstraint("code", name=op.f("uq_squad_code")),
        sa.UniqueConstraint("name", name=op.f("uq_squad_name")),
        sa.UniqueConstraint("town_id", name=op.f("uq_squad_town_id")),
    )
    op.create_table(
        "category_keyword",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["category.code"],
            name=op.f("fk_category_keyword_category_code_category"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_keyword")),
        sa.UniqueConstraint(
            "category_code", "keyword", name=op.f("uq_category_keyword_category_code_keyword")
        ),
    )
    op.create_table(
        "estate_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_estate_alias_estate_id_estate"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estate_alias")),
        sa.UniqueConstraint("estate_id", "alias", name=op.f("uq_estate_alias_estate_id_alias")),
    )
    with op.batch_alter_table("estate_alias", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_estate_alias_alias"), ["alias"], unique=False)
        batch_op.create_index(batch_op.f("ix_estate_alias_estate_id"), ["estate_id"], unique=False)

    op.create_table(
        "legal_basis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("regulation", sa.String(length=128), nullable=False),
        sa.Column("article", sa.String(length=32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["category.code"],
            name=op.f("fk_legal_basis_category_code_category"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_basis")),
        sa.UniqueConstraint("category_code", "position", name=op.f("uq_legal_basis_category_code_position")),
    )


def downgrade() -> None:
    op.drop_table("legal_basis")
    with op.batch_alter_table("estate_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estate_alias_estate_id"))
        batch_op.drop_index(batch_op.f("ix_estate_alias_alias"))

    op.drop_table("estate_alias")
    op.drop_table("category_keyword")
    op.drop_table("squad")
    with op.batch_alter_table("estate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estate_town_id"))
        batch_op.drop_index(batch_op.f("ix_estate_name"))

    op.drop_table("estate")
    op.drop_table("category")
    op.drop_table("town")
    op.drop_table("property_company")
    op.drop_table("category_group")
