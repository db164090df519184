"""Loading content/articles/*.md (TOML front matter between +++ lines, then Markdown) as published articles:
idempotent, and never over an editor's later edits."""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import Article, ArticleStatus
from backend.articles.services.checks import (
    SLUG,
    ArticleInput,
    ArticleRules,
    Citation,
    check_article,
    check_images,
)
from backend.articles.services.published import bump_index_version
from backend.articles.services.writing import content_from, input_of, record_event, write_version
from backend.audit.services import record_audit
from backend.cases.workflow import Actor, Role
from backend.errors import ValidationFailed

SEED_ACTOR = Actor(Role.SYSTEM, label="种子文件")
FIRST_NOTE = "初始内容"
UPDATE_NOTE = "种子文件更新"
FRONT_MATTER_KEYS = {"title", "summary", "categories", "tags", "audience", "cover", "legal_basis"}
FENCE = "+++"


class ArticleFileError(ValueError):
    """An article file that cannot be loaded: the file and what is wrong with it."""


@dataclass(frozen=True)
class ArticleFile:
    slug: str  # the file's name without .md
    digest: str  # SHA-256 of the file's bytes
    data: ArticleInput
    cover: str = ""


def _strings(value: Any, key: str, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArticleFileError(f"{name}: {key} must be a list of strings")
    return value


def _text(front: dict[str, Any], key: str, name: str, default: str | None = None) -> str:
    value = front.get(key, default)
    if not isinstance(value, str):
        raise ArticleFileError(f"{name}: {key} must be a string")
    return value


def _citations(value: Any, name: str) -> list[Citation]:
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise ArticleFileError(f"{name}: legal_basis must be [[legal_basis]] tables with law and article")
    citations = []
    for basis in value:
        law, article = basis.get("law"), basis.get("article")
        if not isinstance(law, str) or not (article is None or isinstance(article, str)):
            raise ArticleFileError(f"{name}: each [[legal_basis]] needs a law (and may name an article)")
        citations.append(Citation(law.strip(), (article or "").strip() or None))
    return citations


def parse_article_file(name: str, raw: bytes, rules: ArticleRules) -> ArticleFile:
    """An article file's front matter and text, checked as the console checks an editor's; ArticleFileError
    naming the file otherwise."""
    slug = name.removesuffix(".md")
    if not SLUG.match(slug):
        raise ArticleFileError(
            f"{name}: the file name must be lower-case letters, digits and - (it is the link)"
        )
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise ArticleFileError(f"{name}: not UTF-8") from None
    lines = text.split("\n")
    end = next((i for i, line in enumerate(lines) if i > 0 and line.strip() == FENCE), None)
    if not lines or lines[0].strip() != FENCE or end is None:
        raise ArticleFileError(f"{name}: must start with front matter between {FENCE} lines")
    try:
        front = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise ArticleFileError(f"{name}: front matter is not TOML ({exc})") from None
    unknown = sorted(set(front) - FRONT_MATTER_KEYS)
    if unknown:
        raise ArticleFileError(f"{name}: unknown front matter keys {unknown}")
    data = ArticleInput(
        title=_text(front, "title", name, ""),
        summary=_text(front, "summary", name, ""),
        body="\n".join(lines[end + 1 :]),
        categories=_strings(front.get("categories", []), "categories", name),
        tags=_strings(front.get("tags", []), "tags", name),
        legal_basis=_citations(front.get("legal_basis", []), name),
        audience=_text(front, "audience", name, "居民"),
    )
    try:
        checked = check_article(data, rules)
    except ValidationFailed as exc:
        where = exc.errors[0].field if exc.errors else ""
        raise ArticleFileError(f"{name}: {where}: {exc.message}") from None
    return ArticleFile(slug, hashlib.sha256(raw).hexdigest(), checked, _text(front, "cover", name, ""))


def read_article_files(articles_dir: Path, rules: ArticleRules) -> list[ArticleFile]:
    """Every article file of the folder (README.md is its description, not an article), by name."""
    if not articles_dir.is_dir():
        return []
    paths = sorted(p for p in articles_dir.glob("*.md") if p.name.lower() != "readme.md")
    return [parse_article_file(p.name, p.read_bytes(), rules) for p in paths]


@dataclass
class ArticleSeedReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # changed in the console since: left as they are
    notes: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return len(self.unchanged) + len(self.edited)

    def summary(self) -> str:
        return (
            f"articles: {len(self.added)} added, {len(self.updated)} updated, {self.kept} kept "
            f"({len(self.edited)} of them edited in the console)" + "".join(f"; {n}" for n in self.notes)
        )


def seed_articles(
    session: Session, articles_dir: Path, rules: ArticleRules, *, now: dt.datetime
) -> ArticleSeedReport:
    """Load the article files: a new file becomes a published article (version 1, 初始内容); a file changed
    since it was loaded is applied only while the article's latest version is still the seed's own; an
    article an editor has saved, restored or made in the console is never overwritten. Every file is
    checked before anything is written."""
    report = ArticleSeedReport()
    published_changed = False
    for file in read_article_files(articles_dir, rules):
        if file.cover:
            report.notes.append(f"{file.slug}: cover not loaded (a cover is uploaded in the console)")
        article = session.scalar(select(Article).where(Article.slug == file.slug))
        if article is None:
            _add(session, file, now)
            report.added.append(file.slug)
            published_changed = True
        elif article.seed_digest == file.digest:
            report.unchanged.append(file.slug)
        elif not article.versions or article.versions[-1].saved_by is not None:
            report.edited.append(file.slug)
        elif _update(session, article, file, now):
            report.updated.append(file.slug)
            published_changed = published_changed or article.status == ArticleStatus.PUBLISHED
        else:
            report.unchanged.append(file.slug)
    if published_changed:
        bump_index_version(session, now)
    return report


def _add(session: Session, file: ArticleFile, now: dt.datetime) -> Article:
    check_images(session, file.data)
    article = Article(
        slug=file.slug,
        status=ArticleStatus.PUBLISHED,
        version=1,
        seed_digest=file.digest,
        published_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    write_version(session, article, content_from(file.data), saved_by=None, note=FIRST_NOTE, now=now)
    source = f"content/articles/{file.slug}.md"
    record_event(session, article, "seed", SEED_ACTOR, note=f"{FIRST_NOTE}（{source}）", data={"version": 1}, now=now)  # fmt: skip
    record_event(session, article, "publish", SEED_ACTOR, data={"version": 1}, now=now)
    detail = {"slug": file.slug, "version": 1, "digest": file.digest}
    record_audit(session, SEED_ACTOR, "article.seed", "article", article.id, detail=detail, now=now)
    return article


def _update(session: Session, article: Article, file: ArticleFile, now: dt.datetime) -> bool:
    """The file's new text as the seed's next version; False when it says what the article says already."""
    check_images(session, file.data)
    content = content_from(file.data) | {"cover_upload_id": input_of(article).cover_upload_id}
    article.seed_digest = file.digest
    version = write_version(session, article, content, saved_by=None, note=UPDATE_NOTE, now=now)
    if version is None:
        return False
    note = f"{UPDATE_NOTE}：第 {version.number} 版"
    record_event(session, article, "seed", SEED_ACTOR, note=note, data={"version": version.number}, now=now)
    detail = {"slug": file.slug, "version": version.number, "digest": file.digest}
    record_audit(session, SEED_ACTOR, "article.seed", "article", article.id, detail=detail, now=now)
    return True
