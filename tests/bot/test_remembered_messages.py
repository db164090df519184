"""A message the bot has read before is not read again: its understanding is kept, and its answer is kept for the
set of articles answered from, so that a quick reply or a common question costs a look-up. What comes back is
what a fresh reading gives, each caller gets a copy of its own, and another set of articles is answered from at
the next question."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import Bot
from bot.evaluate import read_jsonl
from bot.retrieval import ArticleText
from tests.support.bot import CONTENT, FIXTURES

HELD_BACK = Path(__file__).parent / "heldout"
BEES = ArticleText(
    id="9001",
    slug="bees-on-the-roof",
    title="楼顶放蜂箱养蜜蜂，行不行？",
    summary="楼顶平台是全体业主共有的部位，在上面放蜂箱养蜜蜂既占用共用部位，又可能蜇伤邻居；物业应当劝阻。",
    body="有居民在楼顶平台放了十几个蜂箱养蜜蜂。\n楼顶平台属于物业共用部位，个人不能占用。",
    categories=("common_area_occupation",),
)
BEES_QUESTION = "楼顶放蜂箱养蜜蜂可以吗"
CORRIDOR_QUESTION = "楼道里堆放杂物违法吗"  # an FAQ of common_area_occupation answers it
REPORT = "康虹花园8号楼楼顶有人在搭阳光房"


@pytest.fixture(scope="module")
def own_bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    """A bot of this module's own: these tests swap its articles."""
    return Bot.load(CONTENT, gazetteer=FIXTURES / "estates.csv", cache_dir=tmp_path_factory.mktemp("bot"))


@pytest.fixture
def bot(own_bot: Bot) -> Iterator[Bot]:
    own_bot.replace_articles([], version=None)
    own_bot.forget()
    yield own_bot
    own_bot.replace_articles([], version=None)


def _afresh(bot: Bot, text: str, *, answer: bool) -> object:
    bot.forget()
    return bot.answer(text) if answer else bot.understand(text)


def test_what_is_kept_is_what_a_fresh_reading_gives(bot: Bot) -> None:
    questions = [row["question"] for row in read_jsonl(HELD_BACK / "legal_questions.jsonl")][:25]
    letters = [row["body"] for row in read_jsonl(HELD_BACK / "letters.jsonl")][:10]
    bot.replace_articles([BEES], version=1)
    for text in [*questions, *letters, REPORT, BEES_QUESTION, CORRIDOR_QUESTION]:
        first, again = bot.understand(text), bot.understand(text)
        assert first == again == _afresh(bot, text, answer=False), text
        first_answer, again_answer = bot.answer(text), bot.answer(text)
        assert first_answer == again_answer == _afresh(bot, text, answer=True), text


def test_the_second_reading_is_a_look_up(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.understand(CORRIDOR_QUESTION)
    bot.answer(CORRIDOR_QUESTION)

    def read_again(*_args: object) -> None:
        raise AssertionError("read again")

    monkeypatch.setattr(bot.retriever.index, "rank", read_again)
    monkeypatch.setattr(bot.gazetteer, "find", read_again)
    assert bot.understand(CORRIDOR_QUESTION).category == "common_area_occupation"
    assert bot.answer(CORRIDOR_QUESTION).faq_id


def test_each_caller_gets_a_copy_of_its_own(bot: Bot) -> None:
    bot.replace_articles([BEES], version=1)
    meaning = bot.understand(REPORT)
    kept = bot.understand(REPORT)
    meaning.intent = "greeting"
    meaning.candidates.append({"estate": "别处", "street": "别处"})
    assert bot.understand(REPORT) == kept and kept.intent == "report" and kept.estate == "康虹花园"

    answer = bot.answer(CORRIDOR_QUESTION)
    expected = bot.answer(CORRIDOR_QUESTION)
    assert answer.related and answer.related_articles and answer.sources
    answer.related.clear()
    answer.related_articles[0]["title"] = "改掉的标题"
    answer.sources.append({"law": "改掉的法规", "article": None})
    answer.answer = "改掉的回答"
    assert bot.answer(CORRIDOR_QUESTION) == expected


def test_an_answer_is_kept_only_while_the_same_articles_are_answered_from(bot: Bot) -> None:
    assert bot.answer(BEES_QUESTION).article_slug is None
    assert bot.answer(CORRIDOR_QUESTION).related_articles == []

    bot.replace_articles([BEES], version=1)  # published: the very next question is answered from it
    assert bot.answer(BEES_QUESTION).article_slug == BEES.slug
    assert bot.answer(CORRIDOR_QUESTION).related_articles == [{"slug": BEES.slug, "title": BEES.title}]

    bot.replace_articles([], version=2)  # withdrawn: never again, not even from what was kept
    assert bot.answer(BEES_QUESTION).article_slug is None
    assert bot.answer(CORRIDOR_QUESTION).related_articles == []

    bot.replace_articles([BEES], version=3)
    assert bot.answer(BEES_QUESTION).article_slug == BEES.slug


def test_forget_drops_what_was_kept(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.understand(CORRIDOR_QUESTION)
    bot.answer(CORRIDOR_QUESTION)
    bot.forget()
    ranked: list[object] = []
    rank = bot.retriever.index.rank

    def counted(*args: object) -> object:
        ranked.append(args)
        return rank(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.retriever.index, "rank", counted)
    bot.answer(CORRIDOR_QUESTION)
    assert len(ranked) == 1
