"""Text that is not a report, over HTTP: invisible characters are removed before validation, and a description
without words is refused before any case is filed, in the reports API and in the chat."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cases.models import Case
from backend.cases.services.reads import get_case
from backend.text import NOT_A_DESCRIPTION
from tests.support.fake_nlu import FakeNlu
from tests.support.mp_api import API, auth, valid_report


def case_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def refused_on_description(client: FlaskClient, session: Session, token: str, description: str) -> dict:
    before = case_count(session)
    response = client.post(
        API + "/reports", json=valid_report(session, description=description), headers=auth(token)
    )
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert [e["field"] for e in body["errors"]] == ["description"]
    assert case_count(session) == before
    return body["errors"][0]


def test_twenty_zero_width_spaces_are_not_a_report(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    error = refused_on_description(client, session, token, "\u200b" * 20)
    assert error["message"] == "至少 10 个字符"


@pytest.mark.parametrize(
    "description", ["😀" * 12, "🏠🔨🏠🔨🏠🔨🏠🔨🏠🔨", "👷\u200d♂️" * 6, "！？。……！？。……！？"]
)
def test_emoji_or_punctuation_alone_is_not_a_report(
    client: FlaskClient, session: Session, resident, description: str
) -> None:
    _user, token = resident
    assert refused_on_description(client, session, token, description)["message"] == NOT_A_DESCRIPTION


def test_invisible_characters_inside_a_report_are_removed_before_it_is_stored(
    client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    report = valid_report(
        session,
        description="\ufeff楼顶有人\u200b在搭建\u200d阳光房，\u2060已经搭了一半\n请尽快处理 ",
        building="8\u202e号楼",
        unit="\u20662\u2069",
        room="Cafe\u0301 1502",
    )
    response = client.post(API + "/reports", json=report, headers=auth(token))
    assert response.status_code == 201, response.get_json()
    case = get_case(session, response.get_json()["tracking_no"])
    assert case.description == "楼顶有人在搭建阳光房，已经搭了一半\n请尽快处理"
    assert (case.building, case.unit, case.room) == ("8号楼", "2", "Café 1502")


def test_a_description_of_ten_characters_padded_with_invisible_ones_is_counted_as_what_remains(
    client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    error = refused_on_description(client, session, token, "楼顶在搭建阳光房\u200b\u200b\u200b\u200b")
    assert error["message"] == "至少 10 个字符"


@pytest.fixture
def chat_client(app, client: FlaskClient):
    app.extensions["nlu"] = FakeNlu()
    yield client
    del app.extensions["nlu"]


def test_the_chat_refuses_invisible_text(chat_client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    response = chat_client.post(API + "/bot/messages", json={"text": "\u200b" * 20}, headers=auth(token))
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "text", "message": "不能为空"}]


def test_the_chat_reads_text_without_its_invisible_characters(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident

    def say(text: str, sid: str | None = None) -> dict:
        body = {"text": text, **({"session_id": sid} if sid else {})}
        response = chat_client.post(API + "/bot/messages", json=body, headers=auth(token))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    # the right-to-left override would hide "8号楼" from the building rule; the ZWSP would split 阳光房
    sid = say("康虹花园8\u202e号楼楼顶有人在搭阳\u200b光房，搭了好几天")["session_id"]
    say("跳过", sid)
    say("匿名", sid)
    done = say("\u200b确认\u200b", sid)
    assert done["tracking_no"], done
    case = get_case(session, done["tracking_no"])
    assert case.building == "8"
    assert "\u202e" not in case.description and "\u200b" not in case.description
