"""A resident's push preferences over HTTP: GET and PUT /preferences, the refusals in the one error shape, and
the article template a resident grants subscribe messages for."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.preferences import MAX_ESTATES
from backend.org.models import Estate
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id

PREFERENCES = API + "/preferences"


def body(**overrides: object) -> dict:
    return {"pushes": True, "topics": [], "estate_ids": [], **overrides}


def test_a_new_resident_has_pushes_on_for_every_topic(client: FlaskClient, resident) -> None:
    _user, token = resident
    answer = client.get(PREFERENCES, headers=auth(token))
    assert answer.status_code == 200
    assert answer.get_json() == {
        "pushes": True,
        "topics": [],
        "estates": [],
        "max_estates": MAX_ESTATES,
        "subscription": {"template_id": None, "credits": 0},
    }


def test_saving_replaces_the_choices_and_reads_back(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    kanghong, xinqingpu = estate_id(session, "康虹花园"), estate_id(session, "新青浦花苑")
    saved = client.put(
        PREFERENCES,
        json=body(
            pushes=False, topics=["group_rental", "illegal_construction"], estate_ids=[kanghong, xinqingpu]
        ),
        headers=auth(token),
    )
    assert saved.status_code == 200, saved.get_json()
    expected = {
        "pushes": False,
        "topics": ["group_rental", "illegal_construction"],
        "estates": [
            {"id": kanghong, "name": "康虹花园", "town": {"code": "xujing", "name": "徐泾镇"}},
            {"id": xinqingpu, "name": "新青浦花苑", "town": {"code": "xiayang", "name": "夏阳街道"}},
        ],
    }
    assert {k: saved.get_json()[k] for k in expected} == expected
    assert client.get(PREFERENCES, headers=auth(token)).get_json() == saved.get_json()

    again = client.put(PREFERENCES, json=body(estate_ids=[xinqingpu]), headers=auth(token)).get_json()
    assert (again["pushes"], again["topics"], [e["id"] for e in again["estates"]]) == (True, [], [xinqingpu])

    _other, other_token = make_resident(session, "prefsother")
    session.commit()
    assert client.get(PREFERENCES, headers=auth(other_token)).get_json()["estates"] == []  # each their own


def test_refusals_are_in_the_one_error_shape_and_change_nothing(
    client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    kanghong = estate_id(session, "康虹花园")
    client.put(PREFERENCES, json=body(estate_ids=[kanghong]), headers=auth(token))
    six = list(session.scalars(select(Estate.id).order_by(Estate.id).limit(MAX_ESTATES + 1)))
    refusals = [
        (body(estate_ids=six), "estate_ids"),
        (body(estate_ids=[2**31 - 1]), "estate_ids"),
        (body(estate_ids=[0]), "estate_ids.0"),
        (body(topics=["out_of_scope"]), "topics.0"),
        (body(pushes="yes"), "pushes"),
        ({"pushes": True, "topics": []}, "estate_ids"),
        (body(colour="red"), "colour"),
    ]
    for sent, field in refusals:
        answer = client.put(PREFERENCES, json=sent, headers=auth(token))
        assert answer.status_code == 400, (sent, answer.get_json())
        error = answer.get_json()
        assert error["code"] == "validation_error" and any(
            "\u4e00" <= c <= "\u9fff" for c in error["message"]
        )
        assert field in [e["field"] for e in error["errors"]], (sent, error)
    kept = client.get(PREFERENCES, headers=auth(token)).get_json()
    assert [e["id"] for e in kept["estates"]] == [kanghong] and kept["pushes"] is True


def test_a_token_is_needed(client: FlaskClient) -> None:
    assert client.get(PREFERENCES).status_code == 401
    answer = client.put(PREFERENCES, json=body())
    assert answer.status_code == 401 and answer.get_json()["code"] == "missing_token"


def test_the_article_template_is_offered_and_its_grants_counted(make_app, session: Session) -> None:
    app = make_app(WECHAT_TEMPLATE_ARTICLE="tmpl-article")
    client = app.test_client()
    _user, token = make_resident(session, "prefsgrant")
    session.commit()
    answer = client.get(PREFERENCES, headers=auth(token)).get_json()
    assert answer["subscription"] == {"template_id": "tmpl-article", "credits": 0}
    granted = client.post(API + "/subscriptions", json={"template_id": "tmpl-article"}, headers=auth(token))
    assert granted.status_code == 201 and granted.get_json()["credits"] == 1
    assert client.get(PREFERENCES, headers=auth(token)).get_json()["subscription"]["credits"] == 1
