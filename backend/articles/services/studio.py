"""The studio's reading: its list of articles, one article and its record, comparing versions, its images."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from backend.articles.models import Article, ArticleEvent, ArticleVersion
from backend.articles.services.access import require_reader
from backend.articles.services.checks import EVENT_LABELS, UPLOAD_ID, Citation
from backend.cases.workflow import Actor
from backend.errors import NotFound
from backend.pagination import Page, paginate
from backend.staff.models import StaffUser
from backend.taxonomy.services import list_categories
from backend.uploads.models import Upload


@dataclass(frozen=True)
class ArticleFilter:
    status: str | None = None
    category: str | None = None
    q: str = ""  # words of the title


def list_articles(
    session: Session, actor: Actor, filters: ArticleFilter, *, page: int = 1, per_page: int = 30
) -> Page[Article]:
    """Every article, latest change first, for the studio and the bureau."""
    require_reader(actor)
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
    require_reader(actor)
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound("没有这篇文章", code="article_not_found")
    return article


def article_events(session: Session, actor: Actor, article_id: int) -> list[ArticleEvent]:
    """The article's record, oldest first."""
    require_reader(actor)
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
    require_reader(actor)
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
