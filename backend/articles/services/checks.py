"""What an article may say: its fields, categories, tags, citations checked against content/laws.toml, and
only our own images."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import ArticleStatus
from backend.articles.rendering import (
    foreign_images,
    image_markdown,
    upload_ids,
)
from backend.errors import ValidationFailed, label_choices
from backend.taxonomy.services import CATEGORY_CODES
from backend.uploads.models import Upload
from bot.content import Law, law_index, load_content

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


def clean_text(value: str) -> str:
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
    title, summary, body = clean_text(data.title), clean_text(data.summary), clean_text(data.body)
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
