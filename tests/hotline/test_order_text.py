"""Text that is not a work order: the hotline's content is normalised and must say something."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cases.models import Case
from backend.hotline.services import create_client
from backend.text import NOT_A_DESCRIPTION
from tests.support.hotline import API, cases_of, order, valid_order


@pytest.fixture
def api_key(session: Session) -> str:
    _client, key = create_client(session, "上海12345")
    session.commit()
    return key


def case_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("😡" * 12, NOT_A_DESCRIPTION), ("🏚️🔨" * 6, NOT_A_DESCRIPTION), ("\u200b" * 20, "至少 10 个字符")],
)
def test_an_order_without_words_is_refused(
    client: FlaskClient, session: Session, api_key: str, content: str, message: str
) -> None:
    before = case_count(session)
    response = client.post(API + "/orders", json=valid_order(content=content), headers={"X-Api-Key": api_key})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"] == [{"field": "content", "message": message}]
    assert case_count(session) == before
    assert not cases_of(session, "H-20240506-0001")


def test_an_order_is_stored_without_its_invisible_characters(
    client: FlaskClient, session: Session, api_key: str
) -> None:
    response = client.post(
        API + "/orders",
        json=valid_order(
            content="楼顶有人\u200b在搭建阳光房，\u202e已经搭了一半", caller_name="王\u200d阿姨"
        ),
        headers={"X-Api-Key": api_key},
    )
    assert response.status_code == 201, response.get_json()
    (case,) = cases_of(session, "H-20240506-0001")
    assert case.description == "楼顶有人在搭建阳光房，已经搭了一半"


def test_a_field_of_invisible_characters_is_an_absent_one() -> None:
    parsed = order(address="\u200b\u200b", town="\ufeff", category="\u200b", caller_phone="\u2060")
    assert (parsed.address, parsed.town, parsed.category, parsed.caller_phone) == (None, None, None, None)
