"""The studio's legal-education articles in content/articles/: front matter, categories, citations and length."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.content import Content, Law, law_index, load_content
from tests.support.bot import CONTENT, REPO

ARTICLES = CONTENT / "articles"
FILES = sorted(p for p in ARTICLES.glob("*.md") if p.name != "README.md")
# the full texts laws.toml was checked against; beside the project in development, absent elsewhere
REFERENCE_LAWS = REPO.parent / "shared" / "reference" / "laws"

FIELDS = {"title", "summary", "categories", "tags", "audience", "cover", "legal_basis"}
AUDIENCES = {"居民", "物业", "业主与施工单位"}  # as content/articles/README.md lists them
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# the columns of backend/articles/models.py:Article
MAX_SLUG, MAX_TITLE, MAX_SUMMARY = 64, 128, 500
MIN_BODY, MAX_BODY = 400, 2000
# a law named in 《》, or an article number; a bare 第N条 belongs to the law named last before it
CITATION = re.compile(r"《(?P<law>[^》]+)》|(?P<article>第[零一二三四五六七八九十百千]+条)")
# 选择“违法搭建”反映: the category a reader is told to pick must be a name the mini-program shows
PICKED_CATEGORY = re.compile(r"选择“(?P<name>[^”]+)”")
OWN_WORDS_RUN = 16  # characters in a row shared with a law's full text: copied, not our own words


@dataclass(frozen=True)
class Article:
    slug: str
    meta: dict[str, Any]
    body: str

    @property
    def basis(self) -> set[tuple[str, str | None]]:
        return {(b["law"], b.get("article")) for b in self.meta["legal_basis"]}


def read_article(path: Path) -> Article:
    """Split `+++`-fenced TOML front matter from the Markdown body, as content/articles/README.md says."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].strip() == "+++", f"{path.name}: must start with a +++ line"
    end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == "+++"), None)
    assert end is not None, f"{path.name}: front matter has no closing +++ line"
    meta = tomllib.loads("\n".join(lines[1:end]))
    return Article(slug=path.stem, meta=meta, body="\n".join(lines[end + 1 :]).strip())


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(CONTENT)


@pytest.fixture(scope="module")
def laws(content) -> dict[str, Law]:
    return law_index(content.laws)


@pytest.fixture(scope="module")
def codes(content) -> set[str]:
    return {c.code for c in content.categories if c.code != "out_of_scope"}


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return [read_article(p) for p in FILES]


def by_file(test):
    return pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])(test)


def test_there_are_at_least_twenty_articles():
    assert len(FILES) >= 20


@by_file
def test_front_matter_has_the_fields_the_loader_reads(path, codes):
    article = read_article(path)
    meta = article.meta
    assert SLUG.fullmatch(article.slug) and len(article.slug) <= MAX_SLUG
    assert set(meta) == FIELDS, set(meta) ^ FIELDS
    assert isinstance(meta["title"], str) and 0 < len(meta["title"].strip()) <= MAX_TITLE
    assert isinstance(meta["summary"], str) and 0 < len(meta["summary"].strip()) <= MAX_SUMMARY
    categories = meta["categories"]
    assert categories and len(set(categories)) == len(categories)
    assert set(categories) <= codes, set(categories) - codes
    tags = meta["tags"]
    assert tags and all(isinstance(t, str) and t.strip() for t in tags) and len(set(tags)) == len(tags)
    assert meta["audience"] in AUDIENCES
    assert isinstance(meta["cover"], str)
    assert meta["legal_basis"]
    for basis in meta["legal_basis"]:
        assert set(basis) <= {"law", "article"} and isinstance(basis.get("law"), str), basis


@by_file
def test_legal_basis_cites_only_laws_and_articles_of_the_index(path, laws):
    for basis in read_article(path).meta["legal_basis"]:
        law = laws.get(basis["law"])
        assert law is not None and law.name == basis["law"], (
            f"{basis['law']}: not a name in content/laws.toml"
        )
        if "article" in basis:
            # no listed articles (a law outside the reference folder) means: cite it by name only
            assert basis["article"] in law.articles, (
                f"{law.name} {basis['article']}: not in content/laws.toml"
            )


@by_file
def test_articles_cited_in_the_body_are_listed_and_in_the_legal_basis(path, laws):
    article = read_article(path)
    current: Law | None = None
    for match in CITATION.finditer(article.body):
        if match["law"]:
            current = laws.get(match["law"])
            assert current is not None, f"《{match['law']}》: not a law of content/laws.toml"
            continue
        number = match["article"]
        assert current is not None, f"{number} before any law is named"
        assert number in current.articles, f"{current.name} {number}: not in content/laws.toml"
        assert (current.name, number) in article.basis, f"{current.name} {number}: not in legal_basis"


@by_file
def test_body_length(path):
    assert MIN_BODY <= len(read_article(path).body) <= MAX_BODY


@by_file
def test_categories_a_reader_is_told_to_pick_exist(path, content):
    names = [c.name for c in content.categories]
    for match in PICKED_CATEGORY.finditer(read_article(path).body):
        assert any(name.startswith(match["name"]) for name in names), match["name"]


def test_every_category_is_the_main_subject_of_an_article(articles, codes):
    """The first category is what an article is about; every category has one of its own."""
    assert codes - {a.meta["categories"][0] for a in articles} == set()


@pytest.mark.parametrize(
    ("slug", "citations", "words"),
    [
        (
            "how-to-report",
            {("上海市拆除违法建筑若干规定", "第七条"), ("上海市拆除违法建筑若干规定", "第五条")},
            ["小程序", "智能客服", "12345", "派", "签收", "24小时", "2小时", "公开答复", "满意", "匿名"],
        ),
        (
            "property-company-duties",
            {("上海市住宅物业管理规定", "第五十七条"), ("上海市住宅物业管理规定", "第五十九条")},
            ["登记", "巡查", "劝阻", "制止", "24小时内报告"],
        ),
        (
            "renovation-registration",
            {
                ("住宅室内装饰装修管理办法", "第五条"),
                ("住宅室内装饰装修管理办法", "第六条"),
                ("上海市住宅物业管理规定", "第五十七条"),
            },
            ["承重", "防水", "规划", "燃气", "告知书"],
        ),
    ],
)
def test_required_topics(slug, citations, words):
    path = ARTICLES / f"{slug}.md"
    assert path.exists(), f"{slug}.md is one of the three articles issue 12 asks for"
    article = read_article(path)
    assert citations <= article.basis
    assert [w for w in words if w not in article.body] == []


def test_slugs_and_titles_do_not_repeat(articles):
    for values in ([a.slug.casefold() for a in articles], [a.meta["title"].strip() for a in articles]):
        assert len(set(values)) == len(values)


def test_written_in_our_own_words(articles):
    """No run of OWN_WORDS_RUN characters is copied from a law's full text."""
    if not REFERENCE_LAWS.is_dir():
        pytest.skip(f"{REFERENCE_LAWS} is not here")
    runs: dict[str, str] = {}
    for article in articles:
        # a law's own name is quoted, not copied: it breaks the run like a line break
        text = re.sub(r"《[^》]*》", "\n", article.meta["summary"] + "\n" + article.body)
        text = re.sub(r"[ \t\u3000]+", "", text)
        for i in range(len(text) - OWN_WORDS_RUN + 1):
            runs.setdefault(text[i : i + OWN_WORDS_RUN], article.slug)
    copied = set()
    for law in REFERENCE_LAWS.glob("*.md"):
        text = re.sub(r"[ \t\u3000]+", "", law.read_text(encoding="utf-8"))
        for i in range(len(text) - OWN_WORDS_RUN + 1):
            if (slug := runs.get(text[i : i + OWN_WORDS_RUN])) is not None:
                copied.add((slug, law.stem, text[i : i + OWN_WORDS_RUN]))
    assert sorted(copied) == []
