"""Pushing an article in the console: the studio's editor pushes a published article to a town, an estate or
everyone and sees delivered, waiting and failed with why; the bureau reads; nobody else gets in."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.articles.models import Article, Push, PushDelivery
from backend.articles.preferences import set_preferences
from backend.articles.pushes import PushTarget, create_push
from backend.messages.models import Message, SubscriptionCredit
from backend.messages.services import add_subscription_credit
from backend.org.models import Estate
from backend.staff.services import staff_actor
from tests.support.accounts import make_resident
from tests.support.console import csrf_token, login

ROLES = [
    "anonymous",
    "officer",
    "leader",
    "other_officer",
    "supervisor",
    "admin",
    "editor",
    "property",
    "manager",
    "other_property",
]
READERS = {"editor", "supervisor", "admin"}
PAGES = ["/console/pushes", "/console/articles/{article}/pushes", "/console/pushes/{push}"]


def an_article(session: Session, status: str = "published") -> Article:
    article = Article(
        slug=f"console-push-{uuid.uuid4().hex[:10]}",
        title="群租的认定与举报",
        summary="隔断、超员与举报途径",
        body="正文",
        categories=["group_rental"],
        status=status,
    )
    session.add(article)
    session.commit()
    return article


def estate_id(session: Session, name: str) -> int:
    return session.scalar(select(Estate.id).where(Estate.name == name))


def a_resident(session: Session, name: str, *estates: str) -> User:
    user, _ = make_resident(session, name)
    ids = [estate_id(session, e) for e in estates]
    set_preferences(session, user.id, pushes=True, topics=[], estate_ids=ids, now=now_utc())
    session.commit()
    return user


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def client_as(app, role: str, accounts) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        login(client, accounts[role].username)
    return client


def token(client: FlaskClient, role: str) -> str:
    return csrf_token(client, "/console/login" if role == "anonymous" else "/console/password")


def pushes_of(session: Session, article: Article) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Push.id)).where(Push.article_id == article.id)) or 0


@pytest.mark.parametrize("path", PAGES)
def test_pages_by_role(app, session: Session, accounts, path: str) -> None:
    article = an_article(session)
    push = create_push(session, staff_actor(accounts["editor"]), article.id, PushTarget("all"), now=now_utc())
    session.commit()
    url = path.format(article=article.id, push=push.id)
    for role in ROLES:
        response = client_as(app, role, accounts).get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, role
        elif role in READERS:
            assert response.status_code == 200, (role, response.status_code)
        else:
            assert response.status_code == 403, (role, response.status_code)


def test_only_the_editor_pushes(app, session: Session, accounts) -> None:
    article = an_article(session)
    for role in ROLES:
        client = client_as(app, role, accounts)
        response = client.post(
            f"/console/articles/{article.id}/pushes",
            data={"audience": "all", "csrf_token": token(client, role)},
        )
        if role == "editor":
            assert response.status_code == 302 and "/console/pushes/" in response.location
        elif role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location
        else:
            assert response.status_code == 403, role
    assert pushes_of(session, article) == 1


def test_the_form_shows_only_to_the_editor_and_only_for_a_published_article(app, session, accounts) -> None:
    published, draft = an_article(session), an_article(session, status="draft")
    editor = client_as(app, "editor", accounts)
    assert 'data-testid="push-form"' in editor.get(f"/console/articles/{published.id}/pushes").text
    page = editor.get(f"/console/articles/{draft.id}/pushes").text
    assert 'data-testid="push-form"' not in page and "文章发布后才能推送" in page
    refused = editor.post(
        f"/console/articles/{draft.id}/pushes",
        data={"audience": "all", "csrf_token": token(editor, "editor")},
    )
    assert refused.status_code == 409 and "文章发布后才能推送" in refused.text
    supervisor = client_as(app, "supervisor", accounts)
    assert 'data-testid="push-form"' not in supervisor.get(f"/console/articles/{published.id}/pushes").text
    assert pushes_of(session, draft) == 0
    missing = editor.get("/console/articles/2147483647/pushes")
    assert missing.status_code == 404


def test_an_editor_pushes_to_an_estate_and_sees_it_delivered(make_app, session: Session, accounts) -> None:
    app = make_app(REDIS_URL="")  # the jobs run in this process, right after the commit, even in CI
    first = a_resident(session, "cpfirst", "宜达新居")
    second = a_resident(session, "cpsecond", "宜达新居", "新青浦花苑")
    elsewhere = a_resident(session, "cpelsewhere", "新青浦花苑")
    add_subscription_credit(session, first.id, "article")  # WeChat is not configured here: in-app only
    session.commit()
    article = an_article(session)
    editor = client_as(app, "editor", accounts)
    form = editor.get(f"/console/articles/{article.id}/pushes").text
    yida = estate_id(session, "宜达新居")
    assert re.search(rf'<option value="{yida}"\s*>宜达新居（2 人）</option>', form)

    response = editor.post(
        f"/console/articles/{article.id}/pushes",
        data={"audience": "estate", "estate_id": str(yida), "csrf_token": token(editor, "editor")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = response.text
    assert "宜达新居（夏阳街道）" in page
    assert re.search(r'data-count="delivered">2<', page) and re.search(r'data-count="failed">0<', page)
    assert re.search(r'data-count="waiting">0<', page)
    session.expire_all()
    for user in (first, second):
        assert session.scalar(select(func.count(Message.id)).where(Message.user_id == user.id)) == 1
    assert session.scalar(select(func.count(Message.id)).where(Message.user_id == elsewhere.id)) == 0
    credit = session.scalar(select(SubscriptionCredit.credits).where(SubscriptionCredit.user_id == first.id))
    assert credit == 1  # no subscribe message went out, so the grant is still theirs
    listing = editor.get("/console/pushes").text
    assert "群租的认定与举报" in listing and "已完成" in listing


@pytest.mark.parametrize(
    ("form", "field", "reason"),
    [
        ({"audience": "estate"}, "estate_id", "请选择推送的小区"),
        ({"audience": "town"}, "town_id", "请选择推送的街镇"),
        ({"audience": "district"}, "audience", "不是可选的值"),
        ({}, "audience", "必填"),
    ],
)
def test_a_refused_form_comes_back_with_the_reason_beside_its_field(
    app, session: Session, accounts, form: dict, field: str, reason: str
) -> None:
    article = an_article(session)
    editor = client_as(app, "editor", accounts)
    response = editor.post(
        f"/console/articles/{article.id}/pushes", data={**form, "csrf_token": token(editor, "editor")}
    )
    assert response.status_code == 400
    page = response.text
    assert 'data-testid="push-form"' in page and 'data-testid="refused"' in page
    # the first reason after the field's input (the audience's radios, or the select) is its own
    between, said = page.split(f'name="{field}"', 1)[1].split('class="field-error">', 1)
    assert said.startswith(reason)
    assert not any(f'name="{other}"' in between for other in {"audience", "town_id", "estate_id"} - {field})
    if form.get("audience") in {"estate", "town"}:
        assert f'value="{form["audience"]}" checked' in page  # what was chosen stays chosen
    assert pushes_of(session, article) == 0


def test_the_push_page_lists_the_failed_with_why(app, session: Session, accounts) -> None:
    article = an_article(session)
    push = create_push(session, staff_actor(accounts["editor"]), article.id, PushTarget("all"), now=now_utc())
    session.commit()
    session.execute(PushDelivery.__table__.delete().where(PushDelivery.push_id == push.id))
    refused, retrying = make_resident(session, "cprefused")[0], make_resident(session, "cpretry")[0]
    session.add_all(
        [
            PushDelivery(
                push_id=push.id,
                user_id=refused.id,
                status="failed",
                wechat="refused",
                attempts=1,
                last_error="43101 user refuse to accept the msg",
            ),
            PushDelivery(
                push_id=push.id,
                user_id=retrying.id,
                status="waiting",
                wechat="retry",
                attempts=2,
                last_error="-1 system error",
            ),
        ]
    )
    session.commit()
    supervisor = client_as(app, "supervisor", accounts)
    page = supervisor.get(f"/console/pushes/{push.id}").text
    assert re.search(r'data-count="failed">1<', page) and re.search(r'data-count="waiting">1<', page)
    assert "居民拒收或未授权此类订阅消息" in page and f'<td data-label="居民编号">{refused.id}</td>' in page
    waiting = supervisor.get(f"/console/pushes/{push.id}?show=waiting").text
    assert "微信繁忙，稍后重试（-1 system error）" in waiting
    assert f'<td data-label="居民编号">{refused.id}</td>' not in waiting
