"""What residents read: published articles by category and tag, one by its slug, related ones, their images."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from backend.articles.models import Article, ArticleStatus
from backend.articles.services.checks import UPLOAD_ID
from backend.articles.services.published import newest_first, published_query
from backend.cache import ARTICLES, cached
from backend.errors import NotFound
from backend.pagination import MAX_PAGE, Page, paginate
from backend.uploads.models import Upload


def _page_of(items: list[Article], page: int, per_page: int) -> Page[Article]:
    page = max(page, 1)
    if page > MAX_PAGE:
        return Page([], page, per_page, len(items))
    start = (page - 1) * per_page
    return Page(items[start : start + per_page], page, per_page, len(items))


def list_published(
    session: Session, *, category: str | None = None, tag: str = "", page: int = 1, per_page: int = 20
) -> Page[Article]:
    """Published articles, newest first, of a category and with a tag when given."""
    query = newest_first(published_query().options(defer(Article.body)))
    if not category and not tag:
        return paginate(session, query, page, per_page)
    tag = tag.strip()
    # categories and tags are JSON lists: matched here, the same way on SQLite and MariaDB (a studio's
    # published articles are a few hundred at most)
    items = [
        a
        for a in session.scalars(query)
        if (not category or category in (a.categories or [])) and (not tag or tag in (a.tags or []))
    ]
    return _page_of(items, page, per_page)


def get_published(session: Session, slug: str) -> Article:
    """A published article by its slug; a draft or a withdrawn one is not found."""
    article = session.scalar(published_query().where(Article.slug == slug))
    if article is None:
        raise NotFound("没有这篇文章，或它已撤回", code="article_not_found")
    return article


def related_articles(
    session: Session, categories: Iterable[str | None], *, exclude: int | None = None, limit: int = 3
) -> list[Article]:
    """Up to `limit` published articles of these categories: those sharing more of them first, then newest."""
    wanted = {c for c in categories if c}
    if not wanted or limit < 1:
        return []
    scored = [
        (len(wanted & set(a.categories or [])), a)
        for a in session.scalars(newest_first(published_query().options(defer(Article.body))))
        if a.id != exclude
    ]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])  # stable: newest first within
    return [a for _, a in ranked[:limit]]


@dataclass(frozen=True, slots=True)
class ArticleCard:
    """What a list of related articles shows of one: where it is, its title and its summary."""

    slug: str
    title: str
    summary: str


def related_cards(session: Session, category: str | None, *, limit: int = 3) -> tuple[ArticleCard, ...]:
    """`related_articles` of one category, as cards: up to `limit` published articles of it, newest first.
    Kept per process, by category, until an article changes: no query while none has."""
    if not category or limit < 1:
        return ()
    return cached(session, ARTICLES, _read_cards_by_category, part="related").get(category, ())[:limit]


def _read_cards_by_category(session: Session) -> Mapping[str, tuple[ArticleCard, ...]]:
    rows = session.execute(
        newest_first(
            select(Article.slug, Article.title, Article.summary, Article.categories).where(
                Article.status == ArticleStatus.PUBLISHED
            )
        )
    )
    cards: dict[str, list[ArticleCard]] = {}
    for slug, title, summary, categories in rows:
        for category in dict.fromkeys(categories or []):
            cards.setdefault(category, []).append(ArticleCard(slug, title, summary))
    return MappingProxyType({category: tuple(found) for category, found in cards.items()})


def published_image(session: Session, upload_id: str) -> Upload:
    """An image a published article shows (in its text or as its cover): anyone may see it."""
    if not UPLOAD_ID.match(upload_id):
        raise NotFound("没有这张图片", code="upload_not_found")
    shown = session.scalar(
        published_query()
        .where(or_(Article.cover_upload_id == upload_id, Article.body.contains(upload_id, autoescape=True)))
        .limit(1)
    )
    upload = session.get(Upload, upload_id) if shown is not None else None
    if upload is None:
        raise NotFound("没有这张图片", code="upload_not_found")
    return upload
