"""The related articles a filed report answers with, kept per process (backend/cache.py): the same cards as
`related_articles` reads for one category, read again only when an article has changed, and every publication,
withdrawal or edit seen by the next read."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from backend.articles.models import Article
from backend.articles.services.checks import ArticleInput, Citation, load_rules
from backend.articles.services.reading import ArticleCard, related_articles, related_cards
from backend.articles.services.writing import (
    create_article,
    publish_article,
    save_article,
    withdraw_article,
)
from backend.cases.workflow import Actor
from backend.staff.services import create_staff, staff_actor
from backend.taxonomy.services import CATEGORY_CODES
from tests.support.bot import CONTENT
from tests.support.statements import Sent

RULES = load_rules(CONTENT)
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # newer than every seeded article


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="t_related_editor", display_name="编辑", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def _published(session: Session, editor: Actor, title: str, categories: list[str]) -> Article:
    article = create_article(
        session,
        editor,
        ArticleInput(
            title=title,
            summary=f"{title}的摘要",
            body="## 说明\n\n正文。",
            categories=categories,
            tags=[],
            legal_basis=[Citation("上海市住宅物业管理规定", "第五十八条")],
            audience="居民",
        ),
        RULES,
        now=LATER,
    )
    publish_article(session, editor, article.id, RULES, now=LATER)
    return article


def _cards(articles: list[Article]) -> tuple[ArticleCard, ...]:
    return tuple(ArticleCard(a.slug, a.title, a.summary) for a in articles)


def test_the_cards_are_related_articles_of_one_category(session: Session) -> None:
    for code in CATEGORY_CODES:
        for limit in (1, 3, 50):
            expected = _cards(related_articles(session, [code], limit=limit))
            assert related_cards(session, code, limit=limit) == expected, code
    assert (
        related_cards(session, None) == () and related_cards(session, "illegal_construction", limit=0) == ()
    )
    assert related_cards(session, "no_such_category") == ()


def test_the_cards_are_kept_until_an_article_changes(session: Session, editor: Actor, sent: Sent) -> None:
    related_cards(session, "group_rental")
    sent.start()
    kept = related_cards(session, "group_rental")
    assert not [s for s in sent.stop() if "FROM article" in s]  # kept: not read again

    article = _published(session, editor, "群租房里加装隔断，谁来管", ["group_rental", "garbage_sorting"])
    assert related_cards(session, "group_rental")[0] == ArticleCard(
        article.slug, article.title, article.summary
    )
    assert related_cards(session, "garbage_sorting")[0].slug == article.slug
    assert related_cards(session, "group_rental", limit=len(kept) + 1)[1:] == kept  # the others after it

    draft = save_article(
        session,
        editor,
        article.id,
        ArticleInput(
            title="群租房隔断，谁来管？",
            summary="新的摘要",
            body="## 说明\n\n正文。",
            categories=["group_rental"],
            tags=[],
            legal_basis=[Citation("上海市住宅物业管理规定", "第五十八条")],
            audience="居民",
        ),
        RULES,
        now=LATER,
    )[0]
    assert related_cards(session, "group_rental")[0] == ArticleCard(
        draft.slug, "群租房隔断，谁来管？", "新的摘要"
    )
    assert article.slug not in {card.slug for card in related_cards(session, "garbage_sorting", limit=50)}

    withdraw_article(session, editor, article.id, "过时", now=LATER)
    assert article.slug not in {card.slug for card in related_cards(session, "group_rental", limit=50)}
    assert related_cards(session, "group_rental") == kept
