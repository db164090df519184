"""Typed models of legal-education articles: each saved version, their publishing record, the version of the
set of published articles that every process's bot answers from, and pushing an article to residents."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.cache import ARTICLES, built_from
from backend.db import Base, UTCDateTime, utcnow


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"  # 草稿
    PUBLISHED = "published"  # 已发布
    WITHDRAWN = "withdrawn"  # 已撤回


class Article(Base):
    """A legal-education article (普法文章) in Markdown, as its latest version says; the studio publishes it."""

    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # content/articles/<slug>.md when seeded
    title: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)  # Markdown
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # category codes
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{law, article?}]
    audience: Mapped[str] = mapped_column(String(32), default="居民")  # whom it is written for
    cover_upload_id: Mapped[str | None] = mapped_column(ForeignKey("upload.id"))
    status: Mapped[str] = mapped_column(String(16), index=True, default=ArticleStatus.DRAFT)
    version: Mapped[int] = mapped_column(Integer, default=1)  # the number of its latest ArticleVersion
    # the seed's own text, by digest: a later seed replaces an article only while nobody has edited it since
    seed_digest: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleVersion.number"
    )


class ArticleVersion(Base):
    """Every save of an article, to compare and restore."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    audience: Mapped[str] = mapped_column(String(32), default="居民")
    cover_upload_id: Mapped[str | None] = mapped_column(String(32))
    saved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))  # None: the seed
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str] = mapped_column(String(128), default="")  # 初始内容, 恢复第 3 版 …

    article: Mapped[Article] = relationship(back_populates="versions")


class ArticleEvent(Base):
    """Publishing, withdrawing, restoring and pushing an article, on its record: who, when, why."""

    __tablename__ = "article_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ArticleIndexState(Base):
    """One row: the version of the set of published articles. Publishing, withdrawing or editing a published
    article bumps it in the same transaction; every process compares it with the version its bot answers
    from and rebuilds its index when they differ, so no process needs a restart."""

    __tablename__ = "article_index_state"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Push(Base):
    """Publishing an article to an audience: a town, an estate, or everyone. Its deliveries are the residents
    of that audience, each recorded once."""

    __tablename__ = "article_push"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"), index=True)
    audience: Mapped[str] = mapped_column(String(8))  # town, estate, all
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"))
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estate.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    planned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when its deliveries were listed
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DeliveryStatus(enum.StrEnum):
    WAITING = "waiting"  # 待发送
    SENDING = "sending"  # claimed by a job
    DELIVERED = "delivered"  # 已送达: the in-app message, and the subscribe message where a credit allowed
    FAILED = "failed"  # 失败, with why (after its retries)


class PushDelivery(Base):
    """One resident's delivery of a push: in-app message always, WeChat subscribe message when they granted a
    credit. Unique per push and user, claimed with one UPDATE, so it is never sent twice."""

    __tablename__ = "article_delivery"
    __table_args__ = (UniqueConstraint("push_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("article_push.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True, default=DeliveryStatus.WAITING)
    wechat: Mapped[str] = mapped_column(String(12), default="")  # sent, no_credit, refused, "" (not tried)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(255), default="")
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ResidentPreference(Base):
    """What a resident wants pushed: on or off, and the topics (category codes; none: every topic)."""

    __tablename__ = "resident_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    pushes: Mapped[bool] = mapped_column(default=True)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ResidentEstate(Base):
    """An estate a resident lives in or follows: it decides the town and estate pushes they receive and the
    events shown near them."""

    __tablename__ = "resident_estate"
    __table_args__ = (UniqueConstraint("user_id", "estate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Every write to the article table bumps the ARTICLES set in its own transaction (backend/cache.py): what a
# process keeps of the published articles (related_cards) follows each publication, edit or withdrawal.
built_from(ARTICLES, Article)
