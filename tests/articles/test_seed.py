"""Loading content/articles/*.md: new files become published articles, a changed file is applied only while
nobody has edited its article in the console, an editor's article is never overwritten, a bad file stops the
seed before anything is written; the repository's own files all load."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import Article, ArticleEvent, ArticleStatus
from backend.articles.seed import ArticleFileError, parse_article_file, read_article_files, seed_articles
from backend.articles.services.checks import Citation, load_rules
from backend.articles.services.published import index_version
from backend.articles.services.writing import input_of, restore_version, save_article, withdraw_article
from backend.staff.services import create_staff, staff_actor
from tests.support.bot import CONTENT

FIXTURES = Path(__file__).parent / "fixtures" / "seed"
RULES = load_rules(CONTENT)
NOW = dt.datetime(2026, 8, 1, 1, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)
BEES = "test-seed-beehives"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for path in FIXTURES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def article(session: Session, slug: str) -> Article:
    return session.scalars(select(Article).where(Article.slug == slug)).one()


def rewrite(folder: Path, slug: str, old: str, new: str) -> None:
    path = folder / f"{slug}.md"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_new_files_become_published_articles_once(session: Session, folder: Path) -> None:
    before = index_version(session)
    report = seed_articles(session, folder, RULES, now=NOW)
    assert sorted(report.added) == [BEES, "test-seed-gardens"] and report.kept == 0  # README.md skipped
    assert index_version(session) == before + 1
    bees = article(session, BEES)
    assert bees.status == ArticleStatus.PUBLISHED and bees.published_at == NOW and bees.version == 1
    assert bees.seed_digest == hashlib.sha256((folder / f"{BEES}.md").read_bytes()).hexdigest()
    assert [(v.number, v.note, v.saved_by) for v in bees.versions] == [(1, "初始内容", None)]
    assert bees.legal_basis == [{"law": "上海市住宅物业管理规定", "article": "第五十八条"}]
    assert article(session, "test-seed-gardens").legal_basis == [{"law": "上海市绿化条例"}]  # alias → name
    assert bees.body.startswith("## 楼顶平台是谁的") and "+++" not in bees.body
    events = session.scalars(select(ArticleEvent.action).where(ArticleEvent.article_id == bees.id))
    assert list(events) == ["seed", "publish"]

    again = seed_articles(session, folder, RULES, now=LATER)
    assert again.added == [] and again.updated == [] and again.kept == 2
    assert again.summary() == "articles: 0 added, 0 updated, 2 kept (0 of them edited in the console)"
    assert index_version(session) == before + 1 and bees.version == 1


def test_a_changed_file_is_applied_while_the_article_is_still_the_seeds_own(
    session: Session, folder: Path
) -> None:
    seed_articles(session, folder, RULES, now=NOW)
    before = index_version(session)
    rewrite(folder, BEES, "谁都不能占为己有", "谁都不能占为己有，也不能上锁")
    report = seed_articles(session, folder, RULES, now=LATER)
    assert report.updated == [BEES] and report.kept == 1
    bees = article(session, BEES)
    assert bees.version == 2 and "也不能上锁" in bees.body
    assert [(v.number, v.note, v.saved_by) for v in bees.versions][-1] == (2, "种子文件更新", None)
    assert bees.status == ArticleStatus.PUBLISHED and index_version(session) == before + 1  # the bot is told
    # a file that only changed its bytes (a trailing line), not what it says: no version, the digest follows
    path = folder / f"{BEES}.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    report = seed_articles(session, folder, RULES, now=LATER)
    assert report.updated == [] and bees.version == 2
    assert bees.seed_digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_article_an_editor_changed_is_never_overwritten(session: Session, folder: Path) -> None:
    seed_articles(session, folder, RULES, now=NOW)
    editor = staff_actor(
        create_staff(session, username="t_seed_editor", display_name="编辑", role="editor", password="x" * 12)
    )
    bees = article(session, BEES)
    save_article(session, editor, bees.id, replace(input_of(bees), title="编辑改过的标题"), RULES, now=LATER)
    rewrite(folder, BEES, "谁都不能占为己有", "种子文件的新说法")
    report = seed_articles(session, folder, RULES, now=LATER)
    assert report.edited == [BEES] and report.updated == []
    assert "1 of them edited in the console" in report.summary()
    assert bees.title == "编辑改过的标题" and "种子文件的新说法" not in bees.body and bees.version == 2
    # restoring the seed's own text is still an editor's version: the file stays out
    restore_version(session, editor, bees.id, 1, RULES, now=LATER)
    assert seed_articles(session, folder, RULES, now=LATER).edited == [BEES]
    assert "种子文件的新说法" not in bees.body


def test_a_withdrawn_article_takes_the_files_text_but_stays_withdrawn(session: Session, folder: Path) -> None:
    seed_articles(session, folder, RULES, now=NOW)
    editor = staff_actor(
        create_staff(
            session, username="t_seed_editor2", display_name="编辑", role="editor", password="x" * 12
        )
    )
    bees = article(session, BEES)
    withdraw_article(session, editor, bees.id, "暂停", now=NOW)
    before = index_version(session)
    rewrite(folder, BEES, "谁都不能占为己有", "谁都不能占")
    assert seed_articles(session, folder, RULES, now=LATER).updated == [BEES]
    assert bees.status == ArticleStatus.WITHDRAWN and index_version(session) == before


BAD = [
    ("no front matter", "正文而已", "front matter"),
    ("+++\ntitle = \n+++\n正文", "+++\ntitle = \n+++\n正文", "not TOML"),
    ("unknown key", '+++\ntitle = "t"\nsummary = "s"\nauthor = "x"\n+++\n正文', "unknown front matter keys"),
    (
        "categories",
        '+++\ntitle = "t"\nsummary = "s"\ncategories = "x"\n+++\n正文',
        "categories must be a list",
    ),
    (
        "unknown law",
        '+++\ntitle = "t"\nsummary = "s"\n[[legal_basis]]\nlaw = "上海市养蜂条例"\n+++\n正文',
        "legal_basis: 法规目录中没有《上海市养蜂条例》",
    ),
    (
        "unlisted article",
        '+++\ntitle = "t"\nsummary = "s"\n[[legal_basis]]\nlaw = "上海市绿化条例"\narticle = "第九十九条"\n+++\n正文',
        "第九十九条不在法规目录中",
    ),
    ("audience", '+++\ntitle = "t"\nsummary = "s"\naudience = "游客"\n+++\n正文', "audience:"),
    ("empty body", '+++\ntitle = "t"\nsummary = "s"\n+++\n', "body: 请填写正文"),
]


@pytest.mark.parametrize("why, text, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_named_with_what_is_wrong(why: str, text: str, message: str) -> None:
    with pytest.raises(ArticleFileError) as refused:
        parse_article_file("bad-file.md", text.encode(), RULES)
    assert str(refused.value).startswith("bad-file.md: ") and message in str(refused.value)


def test_a_bad_file_stops_the_seed_before_anything_is_written(session: Session, folder: Path) -> None:
    (folder / "zz-broken.md").write_text('+++\ntitle = "t"\nsummary = "s"\n+++\n', encoding="utf-8")
    with pytest.raises(ArticleFileError, match=r"zz-broken\.md"):
        seed_articles(session, folder, RULES, now=NOW)
    assert session.scalar(select(Article.id).where(Article.slug == BEES)) is None
    (folder / "Not A Slug.md").write_text("+++\n+++\n", encoding="utf-8")
    with pytest.raises(ArticleFileError, match="file name"):
        read_article_files(folder, RULES)


def test_every_article_of_the_repository_loads_and_cites_only_laws_toml() -> None:
    files = read_article_files(CONTENT / "articles", RULES)  # raises ArticleFileError naming a bad one
    assert {f.slug for f in files} == {p.stem for p in (CONTENT / "articles").glob("*.md")} - {"README"}
    for file in files:
        for citation in file.data.legal_basis:
            law = RULES.laws[citation.law]
            assert citation == Citation(law.name, citation.article)
            assert citation.article is None or citation.article in law.articles, (file.slug, citation)


def test_the_suites_database_holds_the_repositorys_articles_as_seeded(session: Session) -> None:
    for file in read_article_files(CONTENT / "articles", RULES):
        seeded = article(session, file.slug)
        assert seeded.status == ArticleStatus.PUBLISHED
        assert seeded.seed_digest == file.digest and seeded.versions[0].note == "初始内容"
        assert seeded.title == file.data.title


def test_flask_seed_says_how_many_articles_were_added_updated_and_kept(cli_runner) -> None:
    result = cli_runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    count = len(read_article_files(CONTENT / "articles", RULES))
    assert f"articles: 0 added, 0 updated, {count} kept (0 of them edited in the console)" in result.output
