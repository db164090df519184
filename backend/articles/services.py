"""The rules of legal-education articles: what an article may say (categories, tags, citations checked against
content/laws.toml, our own images), writing one as versions that can be compared and restored, publishing and
withdrawing it on the record, the version of the published set that every process's bot answers from, and
what residents read: lists by category and tag, search, related articles and the public images."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import enum
import functools
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from backend.articles.models import Article, ArticleEvent, ArticleIndexState, ArticleStatus, ArticleVersion
from backend.articles.rendering import (
    excerpt,
    foreign_images,
    highlight,
    image_markdown,
    plain_text,
    upload_ids,
)
from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.db import upsert
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed, label_choices
from backend.pagination import MAX_PAGE, Page, paginate
from backend.staff.models import StaffUser
from backend.taxonomy.services import CATEGORY_CODES, list_categories
from backend.uploads.models import Upload
from bot.content import Law, law_index, load_content
from bot.text import STOPWORDS, Tokenizer, normalise

# --------------------------------------------------------------------------------------- what it says

STATUS_LABELS = {
    ArticleStatus.DRAFT: "草稿",
    ArticleStatus.PUBLISHED: "已发布",
    ArticleStatus.WITHDRAWN: "已撤回",
}
label_choices({status.value: label for status, label in STATUS_LABELS.items()})

# whom an article is written for (content/articles/README.md)
AUDIENCES = ("居民", "物业", "业主与施工单位")

# The record's words for each step (other packages add theirs: pushing an article is on the same record).
EVENT_LABELS: dict[str, str] = {
    "create": "新建草稿",
    "save": "保存",
    "restore": "恢复旧版本",
    "publish": "发布",
    "withdraw": "撤回",
    "seed": "载入种子文件",
    "push": "推送给居民",  # backend/articles/pushes.py
}

TITLE_MAX = 128
SUMMARY_MAX = 500
# TEXT holds 64 KB on MariaDB: 20,000 characters of Chinese (three bytes each) and some room
BODY_MAX = 20_000
NOTE_MAX = 128
REASON_MAX = 500
MAX_CATEGORIES = len(CATEGORY_CODES)
MAX_TAGS = 10
TAG_MAX = 16
MAX_CITATIONS = 12
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"
SLUG = re.compile(SLUG_PATTERN)
# the mini-program's fixed addresses next to /articles/<slug>
RESERVED_SLUGS = frozenset({"search", "related", "images"})
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
ARTICLE_NUMBER = re.compile(r"^第[一二三四五六七八九十百千零〇两]+条(之[一二三四五六七八九十]+)?$")
# where an image chosen in the console goes in the text: this mark, or the end
IMAGE_MARK = "[[图片]]"


@dataclass(frozen=True)
class Citation:
    law: str
    article: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"law": self.law, "article": self.article} if self.article else {"law": self.law}

    def __str__(self) -> str:
        return f"《{self.law}》{self.article or ''}"


@dataclass(frozen=True)
class ArticleRules:
    """What an article may cite and file under: the laws of content/laws.toml (by name and alias, with the
    articles listed there) and the category codes."""

    laws: dict[str, Law]
    categories: frozenset[str]

    @property
    def law_names(self) -> list[str]:
        return sorted({law.name for law in self.laws.values()})


@functools.cache
def load_rules(content_dir: Path) -> ArticleRules:
    """The laws and categories of `content_dir`, read once per process with the bot's own loader (the same
    check the FAQ's citations pass)."""
    content = load_content(Path(content_dir))
    return ArticleRules(laws=law_index(content.laws), categories=frozenset(CATEGORY_CODES))


@dataclass(frozen=True)
class ArticleInput:
    """An article as typed (the console's form, a seed file); `check_article` makes it one that may be kept."""

    title: str
    summary: str
    body: str
    categories: Sequence[str] = ()
    tags: Sequence[str] = ()
    legal_basis: Sequence[Citation] = ()
    audience: str = AUDIENCES[0]
    cover_upload_id: str | None = None


@dataclass(frozen=True)
class NewImage:
    """An image just stored through the upload pipeline, to be put in the text at IMAGE_MARK (or the end)."""

    upload_id: str
    alt: str = ""


def parse_citations(text: str) -> list[Citation]:
    """Citations one a line, as an editor types them: 《上海市拆除违法建筑若干规定》第七条, or the law's name
    (or alias) and the article with a space, or the law alone."""
    citations = []
    for line in text.splitlines():
        line = line.strip().strip("，,；;。")
        if not line:
            continue
        match = re.fullmatch(r"《?\s*(?P<law>.+?)\s*》?\s*(?P<article>第\S+条(之\S+)?)?", line)
        law, article = (match.group("law"), match.group("article")) if match else (line, None)
        citations.append(Citation(law.strip("《》 "), article))
    return citations


def split_tags(text: str) -> list[str]:
    """Tags as an editor types them: separated by commas (either width), 、 or spaces; a leading # is dropped."""
    return [t.lstrip("#＃") for t in re.split(r"[,，、;；\s]+", text) if t.lstrip("#＃")]


def _text(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def check_article(data: ArticleInput, rules: ArticleRules) -> ArticleInput:
    """The article as it will be kept (line breaks made plain, lists without repeats, citations under the
    laws' own names), or ValidationFailed naming the first field that cannot be kept and why, in Chinese."""
    title, summary, body = _check_texts(data)
    categories = list(dict.fromkeys(c.strip() for c in data.categories if c.strip()))
    unknown = [c for c in categories if c not in rules.categories]
    if unknown:
        raise ValidationFailed.on("categories", f"没有这个类别：{'、'.join(unknown)}")
    if len(categories) > MAX_CATEGORIES:
        raise ValidationFailed.on("categories", f"最多选择 {MAX_CATEGORIES} 个类别")
    tags = list(dict.fromkeys(t.strip() for t in data.tags if t.strip()))
    if len(tags) > MAX_TAGS:
        raise ValidationFailed.on("tags", f"最多 {MAX_TAGS} 个标签")
    if any(len(t) > TAG_MAX for t in tags):
        raise ValidationFailed.on("tags", f"每个标签最多 {TAG_MAX} 个字")
    if data.audience not in AUDIENCES:
        raise ValidationFailed.on("audience", f"读者应为以下之一：{'、'.join(AUDIENCES)}")
    if data.cover_upload_id is not None and not UPLOAD_ID.match(data.cover_upload_id):
        raise ValidationFailed.on("cover", "封面不是本系统上传的图片")
    return dataclasses.replace(
        data,
        title=title,
        summary=summary,
        body=body,
        categories=categories,
        tags=tags,
        legal_basis=check_citations(data.legal_basis, rules),
    )


def _check_texts(data: ArticleInput) -> tuple[str, str, str]:
    title, summary, body = _text(data.title), _text(data.summary), _text(data.body)
    if not title:
        raise ValidationFailed.on("title", "请填写标题")
    if len(title) > TITLE_MAX or "\n" in title:
        raise ValidationFailed.on("title", f"标题应为一行，最多 {TITLE_MAX} 个字")
    if not summary:
        raise ValidationFailed.on("summary", "请填写摘要：一两句话说清这篇讲什么")
    if len(summary) > SUMMARY_MAX:
        raise ValidationFailed.on("summary", f"摘要最多 {SUMMARY_MAX} 个字")
    if not body:
        raise ValidationFailed.on("body", "请填写正文")
    if len(body) > BODY_MAX:
        raise ValidationFailed.on("body", f"正文最多 {BODY_MAX} 个字（现有 {len(body)} 个）")
    foreign = foreign_images(body)
    if foreign:
        raise ValidationFailed.on(
            "body", f"正文中的图片只能是本系统上传的图片（用「插入图片」上传）：{foreign[0][:80]}"
        )
    return title, summary, body


def check_citations(citations: Iterable[Citation], rules: ArticleRules) -> list[Citation]:
    """Each cited law under its own name, and each cited article one that content/laws.toml lists for it
    (a law listed without articles is cited by name only)."""
    checked: list[Citation] = []
    for citation in citations:
        law = rules.laws.get(citation.law.strip())
        if law is None:
            raise ValidationFailed.on(
                "legal_basis", f"法规目录中没有《{citation.law}》：请用 content/laws.toml 中的法规名称"
            )
        article = (citation.article or "").strip() or None
        if article is not None and (not ARTICLE_NUMBER.match(article) or article not in law.articles):
            listed = "、".join(law.articles) if law.articles else "（未列出条文，只能按名称引用）"
            raise ValidationFailed.on(
                "legal_basis", f"《{law.name}》{article}不在法规目录中；可引用的条文：{listed}"
            )
        cited = Citation(law.name, article)
        if cited not in checked:
            checked.append(cited)
    if len(checked) > MAX_CITATIONS:
        raise ValidationFailed.on("legal_basis", f"最多引用 {MAX_CITATIONS} 条法律依据")
    return checked


def check_images(session: Session, data: ArticleInput) -> None:
    """The images an article shows are uploads the console stored (never a resident's own photo)."""
    wanted = upload_ids(data.body)
    if wanted:
        found = set(
            session.scalars(select(Upload.id).where(Upload.id.in_(wanted), Upload.owner_id.is_(None)))
        )
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ValidationFailed.on("body", f"正文中的图片不存在或不能用于文章：{missing[0]}")
    if data.cover_upload_id is not None:
        cover = session.get(Upload, data.cover_upload_id)
        if cover is None or cover.owner_id is not None:
            raise ValidationFailed.on("cover", "封面图片不存在或不能用于文章")


def with_image(body: str, image: NewImage) -> str:
    """The text with the image at IMAGE_MARK, or at its end."""
    markdown = image_markdown(image.upload_id, image.alt)
    if IMAGE_MARK in body:
        return body.replace(IMAGE_MARK, markdown, 1)
    return f"{body.rstrip()}\n\n{markdown}" if body.strip() else markdown


# --------------------------------------------------------------------------------------------- who


def _editor(actor: Actor) -> None:
    if actor.role is not Role.EDITOR:
        raise Forbidden("只有社区工作室的编辑可以编写、发布和撤回文章", code="not_editor")


def _reader(actor: Actor) -> None:
    if actor.role is not Role.EDITOR and actor.role not in BUREAU_ROLES:
        raise Forbidden("只有社区工作室和区局可以查看文章的后台", code="not_studio")


def may_write(actor: Actor) -> bool:
    return actor.role is Role.EDITOR


# --------------------------------------------------------------------------------- the index version

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


def index_version(session: Session) -> int:
    """The version of the set of published articles (0 before anything was ever published)."""
    version = session.scalar(select(ArticleIndexState.version).where(ArticleIndexState.id == INDEX_STATE_ID))
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


# ------------------------------------------------------------------------------------------ writing


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
    _editor(actor)
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
    _editor(actor)
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
    _editor(actor)
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
    _editor(actor)
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
    _editor(actor)
    reason = _text(reason)
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


# ------------------------------------------------------------------------------- the studio reading


@dataclass(frozen=True)
class ArticleFilter:
    status: str | None = None
    category: str | None = None
    q: str = ""  # words of the title


def list_articles(
    session: Session, actor: Actor, filters: ArticleFilter, *, page: int = 1, per_page: int = 30
) -> Page[Article]:
    """Every article, latest change first, for the studio and the bureau."""
    _reader(actor)
    query = select(Article).options(defer(Article.body))
    if filters.status:
        query = query.where(Article.status == filters.status)
    if filters.q.strip():
        query = query.where(Article.title.contains(filters.q.strip(), autoescape=True))
    if filters.category:
        # categories are a JSON list: filtered here rather than in SQL, the same way on SQLite and MariaDB
        matching = [
            a.id for a in session.scalars(query.order_by(None)) if filters.category in (a.categories or [])
        ]
        query = query.where(Article.id.in_(matching))
    return paginate(session, query.order_by(Article.updated_at.desc(), Article.id.desc()), page, per_page)


def get_article(session: Session, actor: Actor, article_id: int) -> Article:
    _reader(actor)
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound("没有这篇文章", code="article_not_found")
    return article


def article_events(session: Session, actor: Actor, article_id: int) -> list[ArticleEvent]:
    """The article's record, oldest first."""
    _reader(actor)
    return list(
        session.scalars(
            select(ArticleEvent)
            .where(ArticleEvent.article_id == article_id)
            .order_by(ArticleEvent.created_at, ArticleEvent.id)
        )
    )


def version_authors(session: Session, versions: Iterable[ArticleVersion]) -> dict[int, str]:
    """The names of the staff who saved these versions, by id (a version saved by the seed has none)."""
    ids = {v.saved_by for v in versions if v.saved_by is not None}
    if not ids:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action, action)


class DiffKind(enum.StrEnum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    HUNK = "hunk"  # where the lines below are in the text: @@ -3,4 +3,5 @@


@dataclass(frozen=True)
class DiffLine:
    kind: DiffKind
    text: str


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Comparison:
    older: ArticleVersion
    newer: ArticleVersion
    fields: list[FieldChange] = field(default_factory=list)
    lines: list[DiffLine] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.fields and not self.lines


def _field_texts(version: ArticleVersion, names: dict[str, str]) -> dict[str, str]:
    return {
        "标题": version.title,
        "摘要": version.summary,
        "类别": "、".join(names.get(c, c) for c in version.categories),
        "标签": "、".join(version.tags),
        "法律依据": "；".join(str(Citation(b["law"], b.get("article"))) for b in version.legal_basis),
        "读者": version.audience,
        "封面": version.cover_upload_id or "无",
    }


def compare_versions(session: Session, actor: Actor, article_id: int, a: int, b: int) -> Comparison:
    """What changed from version `a` to version `b`: each field that differs, and the text line by line."""
    article = get_article(session, actor, article_id)
    by_number = {v.number: v for v in article.versions}
    if a not in by_number or b not in by_number:
        missing = a if a not in by_number else b
        raise NotFound(f"没有第 {missing} 版", code="version_not_found")
    older, newer = by_number[a], by_number[b]
    names = category_names(session)
    before, after = _field_texts(older, names), _field_texts(newer, names)
    fields = [
        FieldChange(label, before[label], after[label]) for label in before if before[label] != after[label]
    ]
    lines: list[DiffLine] = []
    diff = difflib.unified_diff(older.body.splitlines(), newer.body.splitlines(), lineterm="", n=3)
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(DiffLine(DiffKind.HUNK, line))
        elif line.startswith("+"):
            lines.append(DiffLine(DiffKind.ADDED, line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine(DiffKind.REMOVED, line[1:]))
        else:
            lines.append(DiffLine(DiffKind.SAME, line[1:]))
    return Comparison(older, newer, fields, lines)


def category_names(session: Session) -> dict[str, str]:
    """Each category code's Chinese name."""
    return {c.code: c.name for c in list_categories(session)}


def article_image(session: Session, actor: Actor, upload_id: str) -> Upload:
    """An image (or cover) of any version of any article, for the studio and the bureau."""
    _reader(actor)
    upload = session.get(Upload, upload_id) if UPLOAD_ID.match(upload_id) else None
    used = upload is not None and (
        session.scalar(
            select(ArticleVersion.id)
            .where(
                or_(
                    ArticleVersion.cover_upload_id == upload_id,
                    ArticleVersion.body.contains(upload_id, autoescape=True),
                )
            )
            .limit(1)
        )
        is not None
    )
    if upload is None or not used:
        raise NotFound("没有这张图片", code="upload_not_found")
    return upload


# --------------------------------------------------------------------------------- residents reading


def _published() -> Any:
    return select(Article).where(Article.status == ArticleStatus.PUBLISHED)


def _newest_first(query: Any) -> Any:
    return query.order_by(Article.published_at.desc(), Article.id.desc())


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
    query = _newest_first(_published().options(defer(Article.body)))
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
    article = session.scalar(_published().where(Article.slug == slug))
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
        for a in session.scalars(_newest_first(_published().options(defer(Article.body))))
        if a.id != exclude
    ]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])  # stable: newest first within
    return [a for _, a in ranked[:limit]]


def published_image(session: Session, upload_id: str) -> Upload:
    """An image a published article shows (in its text or as its cover): anyone may see it."""
    if not UPLOAD_ID.match(upload_id):
        raise NotFound("没有这张图片", code="upload_not_found")
    shown = session.scalar(
        _published()
        .where(or_(Article.cover_upload_id == upload_id, Article.body.contains(upload_id, autoescape=True)))
        .limit(1)
    )
    upload = session.get(Upload, upload_id) if shown is not None else None
    if upload is None:
        raise NotFound("没有这张图片", code="upload_not_found")
    return upload


# ------------------------------------------------------------------------------------------- search

Words = Callable[[str], list[str]]  # a text's words (jieba's, via the bot's own tokenizer)
MAX_QUERY_WORDS = 8
# how much a word found in each part of an article counts
WEIGHTS = {"title": 6.0, "tags": 4.0, "summary": 3.0}
BODY_WEIGHT, BODY_REPEATS = 0.5, 5  # each occurrence in the text counts a little, up to five


@functools.cache
def search_words(content_dir: Path) -> Words:
    """jieba with our dictionary, as a tokenizer of the bot's own (never the global jieba), built once per
    process. It is a tokenizer apart from the bot's: search must not wait for the bot's models to train."""
    dictionary = Path(content_dir) / "bot" / "dictionary.txt"
    tokenizer = Tokenizer(dictionary if dictionary.exists() else None)
    return tokenizer.words


def query_words(query: str, words: Words) -> list[str]:
    """The words a query is searched by: jieba's, without stopwords, each once; single characters only when
    the query has nothing longer (拆 alone is a query; in 违建会被拆吗 it is noise)."""
    text = normalise(query)
    found = [w for w in dict.fromkeys(words(text)) if w not in STOPWORDS]
    longer = [w for w in found if len(w) > 1]
    chosen = longer or found
    if not chosen and text.strip():
        chosen = [text.strip()]
    return chosen[:MAX_QUERY_WORDS]


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    title_html: str  # the title with the matched words in <em>, everything else escaped
    excerpt_html: str  # the summary, or the piece of the text with the first match, the same way


def _score(article: Article, body: str, words: list[str]) -> float:
    title, summary, text = article.title.lower(), article.summary.lower(), body.lower()
    tags = [t.lower() for t in article.tags or []]
    score, matched = 0.0, 0
    for word in words:
        points = 0.0
        if word in title:
            points += WEIGHTS["title"]
        if any(word in tag for tag in tags):
            points += WEIGHTS["tags"]
        if word in summary:
            points += WEIGHTS["summary"]
        if repeats := text.count(word):
            points += 1.0 + BODY_WEIGHT * min(repeats, BODY_REPEATS)
        if points:
            matched += 1
            score += points
    return score * matched / len(words) if words else 0.0  # every word found ranks above some of them


def search_published(
    session: Session, query: str, words: Words, *, page: int = 1, per_page: int = 20
) -> tuple[list[str], Page[SearchHit]]:
    """Published articles that contain the query's words, best first (title, tags, summary, then text; more
    of the words above fewer; newer first on a tie), with the words highlighted. Returns the words too."""
    searched = query_words(query, words)
    if not searched:
        return [], Page([], max(page, 1), per_page, 0)
    contains = [
        column.contains(word, autoescape=True)
        for word in searched
        for column in (Article.title, Article.summary, Article.body)
    ]
    hits = []
    for article in session.scalars(_newest_first(_published().where(or_(*contains)))):
        body = plain_text(article.body)
        score = _score(article, body, searched)
        if score <= 0:
            continue
        in_summary = any(w in article.summary.lower() for w in searched)
        source = article.summary if in_summary else excerpt(body, searched)
        hits.append(
            SearchHit(
                article=article,
                score=round(score, 3),
                title_html=highlight(article.title, searched),
                excerpt_html=highlight(source, searched),
            )
        )
    hits.sort(key=lambda h: -h.score)  # stable: newest first among equals
    page = max(page, 1)
    start = (page - 1) * per_page
    items = hits[start : start + per_page] if page <= MAX_PAGE else []
    return searched, Page(items, page, per_page, len(hits))
