"""The bot's index of published articles: the texts it answers from, with the index version that names them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.articles.services.published import index_version, published_articles
from bot.retrieval import ArticleText


@dataclass(frozen=True)
class PublishedArticles:
    """The published articles as one snapshot, newest first, with the index version that names that set."""

    version: int
    articles: list[ArticleText]


def current_index_version(session: Session) -> int:
    """The version of the set of published articles: one primary-key read, made before every answer."""
    return index_version(session)


def published_for_index(session: Session) -> PublishedArticles:
    """The index version and the published articles as the bot reads them. The caller reads both in one
    transaction (a reader's snapshot), so that the version names exactly this set."""
    version = index_version(session)
    articles = sorted(published_articles(session), key=lambda a: a.id, reverse=True)
    return PublishedArticles(
        version,
        [
            ArticleText(
                id=str(a.id),
                slug=a.slug,
                title=a.title,
                summary=a.summary,
                body=a.body,
                categories=tuple(a.categories),
            )
            for a in articles
        ],
    )
