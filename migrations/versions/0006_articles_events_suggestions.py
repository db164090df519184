"""articles, pushes, resident preferences, events, suggestions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:24:15.954489
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "article_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", backend.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_index_state")),
    )
    op.create_table(
        "resident_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pushes", sa.Boolean(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_resident_preference_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_resident_preference")),
    )
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("legal_basis", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("cover_upload_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seed_digest", sa.String(length=64), nullable=True),
        sa.Column("published_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cover_upload_id"], ["upload.id"], name=op.f("fk_article_cover_upload_id_upload")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article")),
        sa.UniqueConstraint("slug", name=op.f("uq_article_slug")),
    )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_published_at"), ["published_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_article_status"), ["status"], unique=False)

    op.create_table(
        "resident_estate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_resident_estate_estate_id_estate"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_resident_estate_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_estate")),
        sa.UniqueConstraint("user_id", "estate_id", name=op.f("uq_resident_estate_user_id_estate_id")),
    )
    with op.batch_alter_table("resident_estate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_estate_estate_id"), ["estate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_estate_user_id"), ["user_id"], unique=False)

    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("category_code", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("forwarded_squad_id", sa.Integer(), nullable=True),
        sa.Column("forwarded_to_bureau", sa.Boolean(), nullable=False),
        sa.Column("client_request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"], ["category.code"], name=op.f("fk_suggestion_category_code_category")
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_suggestion_estate_id_estate")),
        sa.ForeignKeyConstraint(
            ["forwarded_squad_id"], ["squad.id"], name=op.f("fk_suggestion_forwarded_squad_id_squad")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_suggestion_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
        sa.UniqueConstraint(
            "user_id", "client_request_id", name=op.f("uq_suggestion_user_id_client_request_id")
        ),
    )
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suggestion_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_suggestion_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_suggestion_user_id"), ["user_id"], unique=False)

    op.create_table(
        "article_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_event_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_event")),
    )
    with op.batch_alter_table("article_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_event_article_id"), ["article_id"], unique=False)

    op.create_table(
        "article_push",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=True),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("planned_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_push_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_user.id"], name=op.f("fk_article_push_created_by_staff_user")
        ),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"], name=op.f("fk_article_push_estate_id_estate")),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_article_push_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_push")),
    )
    with op.batch_alter_table("article_push", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_push_article_id"), ["article_id"], unique=False)

    op.create_table(
        "article_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("legal_basis", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("cover_upload_id", sa.String(length=32), nullable=True),
        sa.Column("saved_by", sa.Integer(), nullable=True),
        sa.Column("saved_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_version_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_by"], ["staff_user.id"], name=op.f("fk_article_version_saved_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_version")),
        sa.UniqueConstraint("article_id", "number", name=op.f("uq_article_version_article_id_number")),
    )
    with op.batch_alter_table("article_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_version_article_id"), ["article_id"], unique=False)

    op.create_table(
        "campaign_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("place", sa.String(length=255), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("cancelled_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_user.id"], name=op.f("fk_campaign_event_created_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["estate_id"], ["estate.id"], name=op.f("fk_campaign_event_estate_id_estate")
        ),
        sa.ForeignKeyConstraint(["town_id"], ["town.id"], name=op.f("fk_campaign_event_town_id_town")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_event")),
    )
    with op.batch_alter_table("campaign_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_event_estate_id"), ["estate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_event_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_event_town_id"), ["town_id"], unique=False)

    op.create_table(
        "suggestion_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestion.id"],
            name=op.f("fk_suggestion_event_suggestion_id_suggestion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_event")),
    )
    with op.batch_alter_table("suggestion_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_event_suggestion_id"), ["suggestion_id"], unique=False
        )

    op.create_table(
        "article_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("push_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("wechat", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=False),
        sa.Column("claimed_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["push_id"],
            ["article_push.id"],
            name=op.f("fk_article_delivery_push_id_article_push"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_article_delivery_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_delivery")),
        sa.UniqueConstraint("push_id", "user_id", name=op.f("uq_article_delivery_push_id_user_id")),
    )
    with op.batch_alter_table("article_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_delivery_push_id"), ["push_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_article_delivery_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_article_delivery_user_id"), ["user_id"], unique=False)

    op.create_table(
        "event_signup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("reminded_at", backend.db.UTCDateTime(), nullable=True),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["campaign_event.id"],
            name=op.f("fk_event_signup_event_id_campaign_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_event_signup_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_signup")),
        sa.UniqueConstraint("event_id", "user_id", name=op.f("uq_event_signup_event_id_user_id")),
    )
    with op.batch_alter_table("event_signup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_signup_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_signup_user_id"), ["user_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("event_signup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_signup_user_id"))
        batch_op.drop_index(batch_op.f("ix_event_signup_event_id"))

    op.drop_table("event_signup")
    with op.batch_alter_table("article_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_delivery_user_id"))
        batch_op.drop_index(batch_op.f("ix_article_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_article_delivery_push_id"))

    op.drop_table("article_delivery")
    with op.batch_alter_table("suggestion_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_event_suggestion_id"))

    op.drop_table("suggestion_event")
    with op.batch_alter_table("campaign_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_event_town_id"))
        batch_op.drop_index(batch_op.f("ix_campaign_event_starts_at"))
        batch_op.drop_index(batch_op.f("ix_campaign_event_estate_id"))

    op.drop_table("campaign_event")
    with op.batch_alter_table("article_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_version_article_id"))

    op.drop_table("article_version")
    with op.batch_alter_table("article_push", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_push_article_id"))

    op.drop_table("article_push")
    with op.batch_alter_table("article_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_event_article_id"))

    op.drop_table("article_event")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_user_id"))
        batch_op.drop_index(batch_op.f("ix_suggestion_status"))
        batch_op.drop_index(batch_op.f("ix_suggestion_created_at"))

    op.drop_table("suggestion")
    with op.batch_alter_table("resident_estate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_estate_user_id"))
        batch_op.drop_index(batch_op.f("ix_resident_estate_estate_id"))

    op.drop_table("resident_estate")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_status"))
        batch_op.drop_index(batch_op.f("ix_article_published_at"))

    op.drop_table("article")
    op.drop_table("resident_preference")
    op.drop_table("article_index_state")
