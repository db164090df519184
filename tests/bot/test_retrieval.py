"""Retrieval: answer / suggest / hand over, citations that exist, and articles swapped in."""

from __future__ import annotations

import pytest

from bot.content import _load_faqs, law_index, load_content
from bot.retrieval import AGREED_SCORE, SUGGEST_SCORE, Retriever
from tests.support.bot import CONTENT, FIXTURES


@pytest.fixture(scope="module")
def retriever(bot):
    return Retriever(_load_faqs(FIXTURES / "faq.toml"), bot.terms)


@pytest.mark.parametrize(
    ("question", "fallback", "top"),
    [
        ("阳光房要拆吗", None, "faq:sunroom"),
        ("请问露台上搭个阳光房需要审批吗？", None, "faq:sunroom"),
        ("垃圾不分类要罚多少钱", None, "faq:sorting-fine"),
        ("一套房子住多少人才算群租", None, "faq:group-rental"),
        ("违建", None, "faq:demolition"),  # the two FAQs that fit best are both about illegal building
        ("露台阳光房群租认定", "suggest", None),  # FAQs on two matters fit about as well: offer both
        ("今天中午吃什么好", "human", None),
        ("", "human", None),
    ],
)
def test_thresholds(retriever, question, fallback, top):
    hits = retriever.search(question, {})
    decided, shown = retriever.decide(hits)
    assert decided == fallback, [(h.item.key, round(h.score, 3)) for h in hits]
    if fallback is None:
        assert shown[0].item.key == top
        assert shown[0].score >= AGREED_SCORE
    elif fallback == "suggest":
        assert 1 < len(shown) <= 3
        assert shown[0].score >= SUGGEST_SCORE
    else:
        assert shown == []


def test_every_faq_question_answers_with_its_own_faq(bot):
    """Each question the FAQ lists, asked as written, gets that FAQ's answer (or, where two FAQs share
    the wording, at least that FAQ among the suggestions)."""
    misses = []
    for faq in bot.content.faqs:
        for question in faq.questions:
            answer = bot.answer(question)
            if answer.fallback is None and answer.faq_id == faq.id:
                continue
            if answer.fallback == "suggest" and any(s in faq.questions for s in answer.suggestions):
                continue
            misses.append((faq.id, question, answer.fallback, answer.faq_id))
    total = sum(len(f.questions) for f in bot.content.faqs)
    assert len(misses) <= 0.05 * total, misses[:20]


def test_answer_carries_citations_and_category(bot):
    if not bot.content.faqs:
        pytest.skip("no FAQ yet")
    faq = next(f for f in bot.content.faqs if f.sources)
    answer = bot.answer(faq.questions[0])
    assert answer.fallback is None
    assert answer.category == faq.category
    assert answer.sources == [{"law": s.law, "article": s.article} for s in faq.sources]


def test_every_faq_citation_exists_in_laws():
    content = load_content(CONTENT)  # also raises ContentError on an unknown law or article
    laws = law_index(content.laws)
    for faq in content.faqs:
        for source in faq.sources:
            assert source.law in laws, (faq.id, source.law)
            if source.article and laws[source.law].articles:
                assert source.article in laws[source.law].articles, (faq.id, source.law, source.article)


def test_unknown_question_is_handed_over(bot):
    answer = bot.answer("火星上的房价今年会涨吗")
    assert answer.fallback == "human"
    assert answer.sources == []


def test_out_of_scope_question_says_where_to_go(bot):
    answer = bot.answer("楼上每天晚上唱歌太吵了怎么办")
    assert answer.category == "out_of_scope"
    assert "12345" in answer.answer


def test_suggestions_are_questions(bot):
    if not bot.content.faqs:
        pytest.skip("no FAQ yet")
    answer = bot.answer("违建")
    if answer.fallback == "suggest":
        questions = {q for f in bot.content.faqs for q in f.questions}
        assert 1 <= len(answer.suggestions) <= 3
        assert set(answer.suggestions) <= questions


def test_articles_are_added_and_replaced(bot, retriever):
    local = Retriever(_load_faqs(FIXTURES / "faq.toml"), bot.terms)
    article = {
        "id": "a1",
        "title": "小区里养蜜蜂要注意什么",
        "body": "养蜂人要和邻居保持距离，蜂箱不能放在楼道。",
        "category": "common_area_occupation",
    }
    assert local.decide(local.search("小区里养蜜蜂要注意什么", {}))[0] == "human"
    local.add_articles([article])
    fallback, shown = local.decide(local.search("小区里养蜜蜂要注意什么", {}))
    assert fallback is None and shown[0].item.key == "article:a1"
    local.add_articles([{**article, "title": "楼道里能不能放蜂箱"}])  # same id: replaced, not added
    assert [h.item.title for h in local.search("蜂箱", {}) if h.item.key == "article:a1"] == [
        "楼道里能不能放蜂箱"
    ]
    # the FAQ is still answered after the swap
    assert local.decide(local.search("阳光房要拆吗", {}))[1][0].item.key == "faq:sunroom"


def test_bot_answers_from_an_added_article(bot):
    bot.add_articles(
        [
            {
                "id": "bees",
                "title": "小区里养蜜蜂要注意什么",
                "body": "养蜂人要和邻居保持距离，蜂箱不能放在楼道。",
                "category": "common_area_occupation",
            }
        ]
    )
    answer = bot.answer("小区里养蜜蜂要注意什么")
    assert answer.article_id == "bees"
    assert answer.fallback is None
    assert "小区里养蜜蜂要注意什么" in answer.answer
