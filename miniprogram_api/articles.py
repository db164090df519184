"""Legal-education articles in the mini-program: by category and tag, search, detail, related articles. Anyone
may read them (no login); only published articles are ever answered, a withdrawn one is 404."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, url_for
from flask_openapi3 import Tag

from backend.articles.models import Article
from backend.articles.rendering import render_html
from backend.articles.services.reading import get_published, list_published, published_image, related_articles
from backend.articles.services.search import search_published, search_words
from backend.articles.services.studio import category_names
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody
from backend.pagination import Page
from backend.uploads.services import open_upload
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    ArticleCard,
    ArticleHit,
    ArticleImagePath,
    ArticleList,
    ArticleOut,
    ArticlePage,
    ArticlePath,
    ArticleQuery,
    ArticleSearchPage,
    ArticleSearchQuery,
    BasisOut,
    CategoryRef,
    Pagination,
    RelatedQuery,
)

articles_tag = Tag(
    name="普法文章", description="社区工作室的普法文章：按类别和标签浏览、搜索、阅读（无需登录）"
)
RELATED_ON_PAGE = 3


def _image_url(upload_id: str) -> str:
    # absolute: rich-text and <image> load it from WeChat's side, with no page address to resolve it against
    return url_for("mp.get_article_image", upload_id=upload_id, _external=True)


def _card(article: Article, names: dict[str, str]) -> ArticleCard:
    return ArticleCard(
        slug=article.slug,
        title=article.title,
        summary=article.summary,
        categories=[CategoryRef(code=c, name=names.get(c, c)) for c in article.categories],
        tags=list(article.tags),
        cover_url=_image_url(article.cover_upload_id) if article.cover_upload_id else None,
        published_at=article.published_at,
    )


def _pagination(page: Page[Any]) -> Pagination:
    return Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages)


@mp_api.get("/articles", tags=[articles_tag], responses={200: ArticlePage})
def get_articles(query: ArticleQuery) -> dict:
    """已发布的普法文章（最新在前），可按类别、标签筛选，分页返回。"""
    session = get_session()
    page = list_published(
        session, category=query.category, tag=query.tag, page=query.page, per_page=query.per_page
    )
    names = category_names(session)
    return ArticlePage(data=[_card(a, names) for a in page.items], pagination=_pagination(page)).model_dump(
        mode="json"
    )


@mp_api.get("/articles/search", tags=[articles_tag], responses={200: ArticleSearchPage})
def search_articles(query: ArticleSearchQuery) -> dict:
    """搜索普法文章：按 jieba 分词后的词在标题、标签、摘要和正文中查找，按相关程度排序，命中的词用 <em> 标出。"""
    session = get_session()
    words, page = search_published(
        session, query.q, search_words(get_config().content_dir), page=query.page, per_page=query.per_page
    )
    names = category_names(session)
    hits = [
        ArticleHit(
            **_card(hit.article, names).model_dump(),
            title_html=hit.title_html,
            excerpt_html=hit.excerpt_html,
            score=hit.score,
        )
        for hit in page.items
    ]
    return ArticleSearchPage(words=words, data=hits, pagination=_pagination(page)).model_dump(mode="json")


@mp_api.get("/articles/related", tags=[articles_tag], responses={200: ArticleList})
def get_related_articles(query: RelatedQuery) -> dict:
    """某一问题类别的相关文章（最新在前）：居民提交反映后、智能客服回答后推荐阅读。"""
    session = get_session()
    names = category_names(session)
    articles = related_articles(session, [query.category], limit=query.limit)
    return ArticleList(data=[_card(a, names) for a in articles]).model_dump(mode="json")


@mp_api.get("/articles/<slug>", tags=[articles_tag], responses={200: ArticleOut, 404: ErrorBody})
def get_article(path: ArticlePath) -> dict:
    """文章全文：经过清理的 HTML（交给 rich-text 组件）、类别、标签、法律依据，以及同类别的其他文章。"""
    session = get_session()
    article = get_published(session, path.slug)
    names = category_names(session)
    related = related_articles(session, article.categories, exclude=article.id, limit=RELATED_ON_PAGE)
    return ArticleOut(
        **_card(article, names).model_dump(),
        html=render_html(article.body, image_url=_image_url),
        audience=article.audience,
        legal_basis=[BasisOut(law=b["law"], article=b.get("article")) for b in article.legal_basis],
        version=article.version,
        updated_at=article.updated_at,
        related=[_card(a, names) for a in related],
    ).model_dump(mode="json")


@mp_api.get(
    "/articles/images/<upload_id>",
    tags=[articles_tag],
    responses={
        200: {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}},
        404: ErrorBody,
    },
)
def get_article_image(path: ArticleImagePath) -> Response:
    """已发布文章中的图片或封面（任何人可看）；文章撤回后不再提供。"""
    upload = published_image(get_session(), path.upload_id)
    response = Response(open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type)
    # public, but short: a withdrawn article's images stop being served within minutes
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
