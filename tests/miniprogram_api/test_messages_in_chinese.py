"""Every refusal a person can meet in the mini-program and hotline APIs says what is wrong in plain Chinese:
the Chinese names of the choices instead of their codes, what a pattern asks for instead of "格式不正确"."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.hotline.services import create_client
from backend.taxonomy.services import CATEGORY_CODES
from tests.support.mp_api import API, auth, valid_report

HOTLINE = "/api/hotline/v1/orders"
HAN = re.compile(r"[\u4e00-\u9fff]")
# the only Latin words a message may hold: JSON's own (letters inside an example such as QP20240506-0001 or
# 2024-05-06T09:30:00+08:00 are not words)
LATIN_ALLOWED = {"true", "false", "JSON", "ISO"}
LATIN_WORD = re.compile(r"(?<![0-9])[A-Za-z_]+(?![0-9])")
RAW_CODES = {
    *CATEGORY_CODES,
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "mini_program",
    "hotline_12345",
}
CLIENT_ID_RULE = "应为 8–64 位字母、数字、下划线或连字符"
PHONE_RULE = "应为 11 位手机号，或带区号的固定电话，如 021-59721234"


def assert_plain_chinese(body: dict) -> None:
    messages = [body["message"]] + [e["message"] for e in body.get("errors", [])]
    for message in messages:
        assert HAN.search(message), message
        assert "'" not in message and "Input should" not in message, message
        assert not set(LATIN_WORD.findall(message)) - LATIN_ALLOWED, message
        assert not any(code in message for code in RAW_CODES), message


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert_plain_chinese(body)
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.fixture
def token(resident) -> str:
    return resident[1]


@pytest.fixture
def api_key(session: Session) -> dict[str, str]:
    _client, key = create_client(session, "上海12345")
    session.commit()
    return {"X-Api-Key": key}


def report(client: FlaskClient, token: str, body: object):
    return client.post(API + "/reports", json=body, headers=auth(token))


def test_a_rating_of_great_names_the_choices_in_chinese(client: FlaskClient, token: str) -> None:
    response = client.post(
        API + "/reports/QP20240506-0001/rating", json={"score": "great"}, headers=auth(token)
    )
    assert errors_of(response) == {"score": "应为以下之一：满意、基本满意、不满意"}


def test_a_wrong_category_names_the_categories_in_chinese(
    client: FlaskClient, session: Session, token: str
) -> None:
    message = errors_of(report(client, token, valid_report(session, category="sunroom")))["category"]
    assert message.startswith("应为以下之一：违法搭建；损坏房屋主体和承重结构；")
    assert "群租" in message and "不属于本次专项行动范围" in message


def test_a_short_client_request_id_says_how_long_and_which_characters(
    client: FlaskClient, session: Session, token: str
) -> None:
    for wrong in ("short", "有中文的请求号12345", "a" * 65, "spaces in it"):
        errors = errors_of(report(client, token, valid_report(session, client_request_id=wrong)))
        assert errors == {"client_request_id": CLIENT_ID_RULE}, wrong


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"contact_phone": "12345"}, {"contact_phone": PHONE_RULE}),
        ({"photos": ["not-an-upload"]}, {"photos.0": "应为上传接口返回的照片编号（32 位）"}),
        ({"description": 12345678901}, {"description": "应为文本"}),
        ({"anonymous": "yes"}, {"anonymous": "应为 true 或 false"}),
        ({"estate_id": "康虹花园"}, {"estate_id": "应为整数"}),
        ({"lat": "north", "lng": 121.2}, {"lat": "应为数字"}),
        ({"photos": "abc"}, {"photos": "应为列表"}),
        ({"colour": "red"}, {"colour": "不允许的字段"}),
        ({"lat": 31.1}, {"body": "经度和纬度需同时提供"}),
    ],
)
def test_bad_reports_are_answered_in_chinese(
    client: FlaskClient, session: Session, token: str, overrides: dict, expected: dict
) -> None:
    assert errors_of(report(client, token, valid_report(session, **overrides))) == expected


def test_missing_fields_and_bodies_that_are_not_objects_are_answered_in_chinese(
    client: FlaskClient, session: Session, token: str
) -> None:
    body = valid_report(session)
    del body["client_request_id"]
    assert errors_of(report(client, token, body)) == {"client_request_id": "必填"}
    errors_of(report(client, token, ["not", "an", "object"]))
    errors_of(
        client.post(
            API + "/reports", data=b"{not json", headers={**auth(token), "Content-Type": "application/json"}
        )
    )


def test_the_chat_and_the_catalog_answer_in_chinese(client: FlaskClient, token: str) -> None:
    chat = client.post(API + "/bot/messages", json={"text": "你好", "session_id": "x"}, headers=auth(token))
    assert errors_of(chat) == {"session_id": CLIENT_ID_RULE}
    assert errors_of(client.get(API + "/estates?per_page=many")) == {"per_page": "应为整数"}
    similar = client.get(API + "/reports/similar?estate_id=1&category=sunroom", headers=auth(token))
    assert errors_of(similar)["category"].startswith("应为以下之一：违法搭建")
    read = client.post(API + "/messages/read", json={"ids": ["a"]}, headers=auth(token))
    assert errors_of(read) == {"ids.0": "应为整数"}


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"order_no": "工单#1"}, "order_no", "应为 12345 工单号，只含字母、数字和连字符"),
        ({"caller_phone": "call me"}, "caller_phone", PHONE_RULE),
        ({"category": "sunroom"}, "category", None),
        ({"in_progress": "maybe"}, "in_progress", "应为 true 或 false"),
        ({"received_at": "2024-05-06T09:30:00"}, "received_at", "须注明时区，如 2024-05-06T09:30:00+08:00"),
        ({"content": None}, "content", "应为文本"),
        ({"colour": "red"}, "colour", "不允许的字段"),
    ],
)
def test_bad_hotline_orders_are_answered_in_chinese(
    client: FlaskClient, api_key: dict, overrides: dict, field: str, expected: str | None
) -> None:
    order = {
        "order_no": "H-20240506-0001",
        "content": "楼顶有人在搭建阳光房，已经搭了一半",
        "town": "徐泾镇",
        **overrides,
    }
    errors = errors_of(client.post(HOTLINE, json=order, headers=api_key))
    assert field in errors
    if expected:
        assert errors[field] == expected
    else:
        assert (
            errors[field].startswith("应为以下之一：违法搭建")
            and "不属于本次专项行动范围" not in errors[field]
        )


def test_every_rating_a_body_accepts_has_a_chinese_name() -> None:
    from typing import get_args

    from backend.cases.services.timeline import RATING_LABELS
    from miniprogram_api.schemas import Rating

    assert set(get_args(Rating)) == set(RATING_LABELS)
