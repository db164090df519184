"""Writing an article: drafts, a version for every save, restoring, publishing and withdrawing, on its record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import Article, ArticleEvent, ArticleStatus, ArticleVersion
from backend.articles.services.access import require_editor
from backend.articles.services.checks import (
    NOTE_MAX,
    REASON_MAX,
    RESERVED_SLUGS,
    SLUG,
    ArticleInput,
    ArticleRules,
    Citation,
    NewImage,
    check_article,
    check_images,
    clean_text,
    with_image,
)
from backend.articles.services.published import bump_index_version
from backend.audit.services import record_audit
from backend.cases.workflow import Actor
from backend.errors import Conflict, NotFound, ValidationFailed


def _content_of(article: Article | ArticleVersion) -> dict[str, Any]:
    return {
        "title": article.title,
        "summary": article.summary,
        "body": article.body,
        "categories": list(article.categories),
        "tags": list(article.tags),
        "legal_basis": [dict(b) for b in article.legal_basis],
        "audience": article.audience,
        "cover_upload_id": article.cover_upload_id,
    }


def content_from(data: ArticleInput) -> dict[str, Any]:
    """What a version of `data` keeps, column by column."""
    return {
        "title": data.title,
        "summary": data.summary,
        "body": data.body,
        "categories": list(data.categories),
        "tags": list(data.tags),
        "legal_basis": [c.as_dict() for c in data.legal_basis],
        "audience": data.audience,
        "cover_upload_id": data.cover_upload_id,
    }


def input_of(version: Article | ArticleVersion) -> ArticleInput:
    """What an article (or one of its versions) says, as an input: to check it again or fill a form."""
    return ArticleInput(
        title=version.title,
        summary=version.summary,
        body=version.body,
        categories=list(version.categories),
        tags=list(version.tags),
        legal_basis=[Citation(b["law"], b.get("article") or None) for b in version.legal_basis],
        audience=version.audience,
        cover_upload_id=version.cover_upload_id,
    )


def write_version(
    session: Session,
    article: Article,
    content: dict[str, Any],
    *,
    saved_by: int | None,
    note: str,
    now: dt.datetime,
) -> ArticleVersion | None:
    """Make `content` the article's next version (the article shows it at once); None, and nothing written,
    when it says exactly what the latest version says."""
    if article.versions and _content_of(article) == content:
        return None
    number = (article.version + 1) if article.versions else 1
    version = ArticleVersion(number=number, saved_by=saved_by, saved_at=now, note=note[:NOTE_MAX], **content)
    article.versions.append(version)
    for name, value in content.items():
        setattr(article, name, value)
    article.version = number
    article.updated_at = now
    session.flush()
    return version


def record_event(
    session: Session,
    article: Article,
    action: str,
    actor: Actor,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
    now: dt.datetime,
) -> ArticleEvent:
    """A step on the article's record: who, when, why."""
    event = ArticleEvent(
        article_id=article.id,
        action=action,
        actor_id=actor.id,
        actor_label=actor.label,
        note=note,
        data=data or {},
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def _new_slug(session: Session, now: dt.datetime) -> str:
    while True:
        slug = f"a{now:%Y%m%d}-{secrets.token_hex(3)}"
        if session.scalar(select(Article.id).where(Article.slug == slug)) is None:
            return slug


def check_slug(session: Session, slug: str) -> str:
    if not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise ValidationFailed.on("slug", "链接名应为 2–64 位小写字母、数字或连字符，以字母或数字开头")
    if session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        raise ValidationFailed.on("slug", "这个链接名已被另一篇文章使用")
    return slug


def create_article(
    session: Session,
    actor: Actor,
    data: ArticleInput,
    rules: ArticleRules,
    *,
    slug: str = "",
    image: NewImage | None = None,
    note: str = "",
    now: dt.datetime,
) -> Article:
    """A new draft (version 1) written by a studio editor; `slug` names it in links (made up if empty)."""
    require_editor(actor)
    if image is not None:
        data = dataclasses.replace(data, body=with_image(data.body, image))
    data = check_article(data, rules)
    check_images(session, data)
    slug = check_slug(session, slug) if slug else _new_slug(session, now)
    article = Article(slug=slug, status=ArticleStatus.DRAFT, version=1, created_at=now, updated_at=now)
    session.add(article)
    write_version(session, article, content_from(data), saved_by=actor.id, note=note or "新建", now=now)
    record_event(session, article, "create", actor, data={"version": 1}, now=now)
    record_audit(session, actor, "article.create", "article", article.id, detail={"slug": slug}, now=now)
    return article


def _locked(session: Session, article_id: int) -> Article:
    """The article, its row locked until the transaction ends: two saves never take the same number."""
    article = session.get(Article, article_id, with_for_update=True, populate_existing=True)
    if article is None:
        raise NotFound("没有这篇文章", code="article_not_found")
    return article


def save_article(
    session: Session,
    actor: Actor,
    article_id: int,
    data: ArticleInput,
    rules: ArticleRules,
    *,
    base_version: int | None = None,
    image: NewImage | None = None,
    note: str = "",
    now: dt.datetime,
) -> tuple[Article, ArticleVersion | None]:
    """Save an editor's text as the article's next version (none when nothing changed). `base_version` is
    the version the editor started from: when someone saved another since, nothing is overwritten (409). A
    published article shows the new text at once, so the bot's index is told."""
    require_editor(actor)
    article = _locked(session, article_id)
    if base_version is not None and base_version != article.version:
        raise Conflict(
            f"这篇文章在您编辑期间已被保存为第 {article.version} 版；您的修改未保存，请对照新版本后再保存",
            code="article_changed",
        )
    if image is not None:
        data = dataclasses.replace(data, body=with_image(data.body, image))
    data = check_article(data, rules)
    check_images(session, data)
    version = write_version(session, article, content_from(data), saved_by=actor.id, note=note, now=now)
    if version is None:
        return article, None
    record_event(session, article, "save", actor, note=note, data={"version": version.number}, now=now)
    record_audit(
        session, actor, "article.save", "article", article.id, detail={"version": version.number}, now=now
    )
    if article.status == ArticleStatus.PUBLISHED:
        bump_index_version(session, now)
    return article, version


def restore_version(
    session: Session, actor: Actor, article_id: int, number: int, rules: ArticleRules, *, now: dt.datetime
) -> ArticleVersion:
    """Version `number` again, as a new version noted 恢复第 N 版 (the versions in between stay on file)."""
    require_editor(actor)
    article = _locked(session, article_id)
    old = next((v for v in article.versions if v.number == number), None)
    if old is None:
        raise NotFound(f"没有第 {number} 版", code="version_not_found")
    data = check_article(input_of(old), rules)  # the laws it cites may have left laws.toml since
    check_images(session, data)
    note = f"恢复第 {number} 版"
    version = write_version(session, article, content_from(data), saved_by=actor.id, note=note, now=now)
    if version is None:
        raise Conflict(f"第 {number} 版与当前内容相同，无需恢复", code="version_unchanged")
    record_event(session, article, "restore", actor, note=note, data={"from": number, "version": version.number}, now=now)  # fmt: skip
    detail = {"from": number, "version": version.number}
    record_audit(session, actor, "article.restore", "article", article.id, detail=detail, now=now)
    if article.status == ArticleStatus.PUBLISHED:
        bump_index_version(session, now)
    return version


def publish_article(
    session: Session, actor: Actor, article_id: int, rules: ArticleRules, *, now: dt.datetime
) -> Article:
    """Publish a draft or a withdrawn article as its latest version says: residents read it and the bot
    answers from it."""
    require_editor(actor)
    article = _locked(session, article_id)
    if article.status == ArticleStatus.PUBLISHED:
        raise Conflict("这篇文章已经发布", code="article_published")
    data = check_article(input_of(article), rules)
    check_images(session, data)
    article.status = ArticleStatus.PUBLISHED
    article.published_at = now
    article.withdrawn_at = None
    record_event(session, article, "publish", actor, data={"version": article.version}, now=now)
    detail = {"version": article.version}
    record_audit(session, actor, "article.publish", "article", article.id, detail=detail, now=now)
    bump_index_version(session, now)
    return article


def withdraw_article(
    session: Session, actor: Actor, article_id: int, reason: str, *, now: dt.datetime
) -> Article:
    """Withdraw a published article, saying why: it is no longer shown, searched or answered from."""
    require_editor(actor)
    reason = clean_text(reason)
    if not reason:
        raise ValidationFailed.on("reason", "请填写撤回原因")
    if len(reason) > REASON_MAX:
        raise ValidationFailed.on("reason", f"撤回原因最多 {REASON_MAX} 个字")
    article = _locked(session, article_id)
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict("只有已发布的文章可以撤回", code="article_not_published")
    article.status = ArticleStatus.WITHDRAWN
    article.withdrawn_at = now
    record_event(session, article, "withdraw", actor, note=reason, data={"version": article.version}, now=now)
    detail = {"version": article.version, "reason": reason}
    record_audit(session, actor, "article.withdraw", "article", article.id, detail=detail, now=now)
    bump_index_version(session, now)
    return article
