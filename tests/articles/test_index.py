"""The bot's index of published articles: what it reads of the database, and the bot answering from exactly the
set it was last given (replaced whole, swapped in while it answers)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.orm import Session

from backend.articles.index import current_index_version, published_for_index
from backend.articles.models import Article, ArticleStatus
from backend.articles.services.published import bump_index_version
from bot import Bot
from bot.content import Source, _load_faqs
from bot.retrieval import ArticleText, Retriever
from tests.support.bot import CONTENT, FIXTURES

BEES = ArticleText(
    id="9001",
    slug="bees-on-the-roof",
    title="楼顶放蜂箱养蜜蜂，行不行？",
    summary="楼顶平台是全体业主共有的部位，在上面放蜂箱养蜜蜂既占用共用部位，又可能蜇伤邻居；物业应当劝阻。",
    body="有居民在楼顶平台放了十几个蜂箱养蜜蜂。\n楼顶平台属于物业共用部位，个人不能占用。",
    categories=("common_area_occupation",),
    sources=(Source("上海市住宅物业管理规定", "第五十六条"),),
)
BEES_QUESTION = "楼顶放蜂箱养蜜蜂可以吗"
CORRIDOR_QUESTION = "楼道里堆放杂物违法吗"  # an FAQ of common_area_occupation answers it


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    return Bot.load(CONTENT, cache_dir=tmp_path_factory.mktemp("bot-cache"))


@pytest.fixture
def fresh_bot(bot: Bot) -> Bot:
    bot.replace_articles([], version=None)
    yield bot
    bot.replace_articles([], version=None)


def _article(session: Session, slug: str, status: ArticleStatus, **fields: object) -> Article:
    now = dt.datetime.now(dt.UTC)
    article = Article(
        slug=slug,
        title=str(fields.get("title", f"测试文章 {slug}")),
        summary=str(fields.get("summary", "一句话摘要。")),
        body=str(fields.get("body", "正文。")),
        categories=list(fields.get("categories", ["common_area_occupation"])),  # type: ignore[call-overload]
        status=status,
        published_at=now if status is not ArticleStatus.DRAFT else None,
    )
    session.add(article)
    session.flush()
    return article


# ------------------------------------------------------------------------------- what the database says


def test_the_published_articles_are_read_newest_first_with_the_version_naming_them(session: Session) -> None:
    before = current_index_version(session)
    _article(session, "index-draft", ArticleStatus.DRAFT)
    _article(session, "index-withdrawn", ArticleStatus.WITHDRAWN)
    older = _article(session, "index-older", ArticleStatus.PUBLISHED)
    newer = _article(
        session,
        "index-newer",
        ArticleStatus.PUBLISHED,
        title="楼道里能不能放蜂箱",
        body="## 先说结论\n\n蜂箱**不能**放在[楼道](https://example.com/x)里。",
        categories=["common_area_occupation", "garbage_sorting"],
    )
    bump_index_version(session, dt.datetime.now(dt.UTC))

    published = published_for_index(session)
    assert published.version == before + 1 == current_index_version(session)
    slugs = [a.slug for a in published.articles]
    assert "index-draft" not in slugs and "index-withdrawn" not in slugs
    assert slugs.index(newer.slug) < slugs.index(older.slug)
    text = next(a for a in published.articles if a.slug == newer.slug)
    assert (text.id, text.title, text.categories) == (
        str(newer.id),
        "楼道里能不能放蜂箱",
        ("common_area_occupation", "garbage_sorting"),
    )
    # the bot reads words, not markup: no heading marks, emphasis or link targets
    assert "蜂箱不能放在楼道里" in text.body
    assert "##" not in text.body and "**" not in text.body and "example.com" not in text.body


def test_the_version_is_zero_until_something_bumps_it(session: Session) -> None:
    assert current_index_version(session) >= 0
    before = current_index_version(session)
    bump_index_version(session, dt.datetime.now(dt.UTC))
    bump_index_version(session, dt.datetime.now(dt.UTC))
    assert current_index_version(session) == before + 2


# ------------------------------------------------------------------------------- the bot's side


def test_an_article_is_answered_from_with_its_title_and_left_out_it_never_is_again(fresh_bot: Bot) -> None:
    assert fresh_bot.answer(BEES_QUESTION).article_slug is None
    fresh_bot.replace_articles([BEES], version=7)
    assert fresh_bot.articles_version == 7

    answer = fresh_bot.answer(BEES_QUESTION)
    assert answer.fallback is None
    assert (answer.article_id, answer.article_slug, answer.article_title) == ("9001", BEES.slug, BEES.title)
    assert f"《{BEES.title}》" in answer.answer and BEES.summary in answer.answer
    assert answer.category == "common_area_occupation"
    assert answer.sources == [{"law": "上海市住宅物业管理规定", "article": "第五十六条"}]

    fresh_bot.replace_articles([], version=8)  # withdrawn: the whole set is replaced
    for question in (BEES_QUESTION, BEES.title, CORRIDOR_QUESTION):
        again = fresh_bot.answer(question)
        assert again.article_slug is None, question
        assert BEES.title not in again.answer and BEES.title not in again.suggestions
        assert all(a["slug"] != BEES.slug for a in again.related_articles)


def test_an_faq_answer_offers_the_published_articles_on_its_topic(fresh_bot: Bot) -> None:
    plain = fresh_bot.answer(CORRIDOR_QUESTION)
    assert plain.faq_id and plain.related_articles == []
    others = [
        ArticleText(
            id=str(n),
            slug=f"other-{n}",
            title=f"第{n}篇别的类别文章",
            body="垃圾分类。",
            categories=("garbage_sorting",),
        )
        for n in range(3)
    ]
    second = ArticleText(
        id="9002",
        slug="second-topic",
        title="装修垃圾别堆楼道",
        body="装修垃圾要预约清运。",
        categories=("garbage_sorting", "common_area_occupation"),
    )
    fresh_bot.replace_articles([second, *others, BEES], version=1)

    answer = fresh_bot.answer(CORRIDOR_QUESTION)
    # the FAQ still answers (an article on its matter is offered after it, not a rival to it)
    assert (answer.fallback, answer.faq_id, answer.answer) == (None, plain.faq_id, plain.answer)
    # its own category first, then articles that also list it; other topics never
    assert answer.related_articles == [
        {"slug": BEES.slug, "title": BEES.title},
        {"slug": "second-topic", "title": "装修垃圾别堆楼道"},
    ]
    assert fresh_bot.answer(BEES_QUESTION).related_articles == []  # an article's answer offers none


def test_text_already_indexed_is_not_cut_again(bot: Bot) -> None:
    cut: list[str] = []

    def terms(text: str) -> list[str]:
        cut.append(text)
        return bot.terms(text)

    retriever = Retriever(_load_faqs(FIXTURES / "faq.toml"), terms)
    retriever.replace_articles([BEES], version=1)
    cut.clear()
    edited = ArticleText(id="9002", slug="new", title="楼道里能不能放蜂箱", body="不能。")
    retriever.replace_articles([BEES, edited], version=2)
    assert cut == ["楼道里能不能放蜂箱", "不能。"]
    assert retriever.articles_version == 2
    assert [i.slug for i in retriever.index.articles] == [BEES.slug, "new"]


def test_answers_go_on_while_the_articles_are_swapped(fresh_bot: Bot) -> None:
    """Each answer comes whole from one set: the old one or the new one, never an error or a mixture."""
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: set[str | None] = set()

    def ask() -> None:
        try:
            while not stop.is_set():
                answer = fresh_bot.answer(BEES_QUESTION)
                seen.add(answer.article_slug)
                assert answer.article_slug is None or BEES.title in answer.answer
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for version in range(20):
            fresh_bot.replace_articles([BEES] if version % 2 == 0 else [], version=version)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
    assert fresh_bot.answer(BEES_QUESTION).article_slug is None  # the last set (version 19) has none
