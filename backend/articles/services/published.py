"""The published set as every process's bot answers from it: its version, bumped in the same transaction as
any change to it, and the published articles."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import Article, ArticleIndexState, ArticleStatus
from backend.articles.rendering import (
    plain_text,
)
from backend.db import upsert

INDEX_STATE_ID = 1  # the one row of ArticleIndexState


def bump_index_version(session: Session, now: dt.datetime) -> None:
    """Record, in the caller's transaction, that the set of published articles (or a published one's text)
    changed: every process's bot sees the new version once this commits and rebuilds its index. One
    statement (an upsert), so that two transactions bumping at once both count and never deadlock."""
    upsert(
        session,
        ArticleIndexState,
        {"id": INDEX_STATE_ID, "version": 1, "changed_at": now},
        {"version": ArticleIndexState.__table__.c.version + 1, "changed_at": now},
    )


# Read before every answer of the bot: built once, and sent through Core on the session's connection (the ORM's
# execution layer costs more than the primary-key read itself)
_INDEX_VERSION = select(ArticleIndexState.version).where(ArticleIndexState.id == INDEX_STATE_ID)


def index_version(session: Session) -> int:
    """The version of the set of published articles (0 before anything was ever published), as the session's
    transaction sees it (its own pending changes flushed first, as a query would)."""
    if session.autoflush:
        session.flush()
    version = session.connection().execute(_INDEX_VERSION).scalar()
    return version or 0


@dataclass(frozen=True)
class PublishedArticle:
    """A published article as the bot indexes it: its text without markup."""

    id: int
    slug: str
    title: str
    summary: str
    body: str  # plain text (Markdown stripped)
    categories: tuple[str, ...]
    tags: tuple[str, ...]


def published_articles(session: Session) -> list[PublishedArticle]:
    """Every published article, oldest first, for the bot's index (withdrawn and draft ones are never in it)."""
    articles = session.scalars(
        select(Article).where(Article.status == ArticleStatus.PUBLISHED).order_by(Article.id)
    )
    return [
        PublishedArticle(
            id=a.id,
            slug=a.slug,
            title=a.title,
            summary=a.summary,
            body=plain_text(a.body),
            categories=tuple(a.categories),
            tags=tuple(a.tags),
        )
        for a in articles
    ]


def published_query() -> Any:
    return select(Article).where(Article.status == ArticleStatus.PUBLISHED)


def newest_first(query: Any) -> Any:
    return query.order_by(Article.published_at.desc(), Article.id.desc())
