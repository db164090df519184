"""The reports API over HTTP: wiring, authentication, every field's validation, privacy between residents."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case
from backend.cases.services.life import transition
from backend.cases.services.reads import get_case
from backend.cases.workflow import Actor, Role
from backend.org.models import Squad
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id, png_bytes, valid_report


def test_requests_without_a_valid_token_are_401(client: FlaskClient) -> None:
    for method, path in [
        ("get", "/reports"),
        ("post", "/reports"),
        ("get", "/messages"),
        ("post", "/uploads"),
    ]:
        response = getattr(client, method)(API + path)
        assert response.status_code == 401, path
        assert response.get_json()["code"] == "missing_token"
    bad = client.get(API + "/reports", headers=auth("not-a-token"))
    assert bad.status_code == 401 and bad.get_json()["message"] == "登录已失效，请重新登录"


def test_file_a_report_and_read_it_back(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    response = client.post(API + "/reports", json=valid_report(session), headers=auth(token))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["tracking_no"].startswith("QP")
    assert body["status"] == "dispatched"
    assert body["category"] == {"code": "illegal_construction", "name": "违法搭建"}
    assert body["squad"] == {"name": "徐泾中队"}
    assert body["due_at"] == body["deadlines"]["onsite_due_at"]
    assert get_case(session, body["tracking_no"]).description == "楼顶有人在搭建阳光房，已经搭了一半"

    again = client.post(API + "/reports", json=valid_report(session), headers=auth(token))
    assert again.status_code == 200 and again.get_json()["tracking_no"] == body["tracking_no"]

    detail = client.get(f"{API}/reports/{body['tracking_no']}", headers=auth(token)).get_json()
    assert [item["action"] for item in detail["timeline"]] == ["submit", "dispatch"]
    assert detail["contact_phone"] == "13812345678" and detail["mine"] is True
    assert detail["can_withdraw"] is True

    mine = client.get(API + "/reports", headers=auth(token)).get_json()
    assert [r["tracking_no"] for r in mine["data"]] == [body["tracking_no"]]
    assert mine["pagination"]["total"] == 1


BAD_FIELDS = [
    ({"category": "spaceships"}, "category"),
    ({"category": 7}, "category"),
    ({"category": "out_of_scope"}, "category"),
    ({"description": "太短了"}, "description"),
    ({"description": "长" * 1001}, "description"),
    ({"description": "          短          "}, "description"),
    ({"description": None}, "description"),
    ({"description": "\x00" * 12}, "description"),
    ({"description": "楼顶有人在搭建阳光房\x1b[2J已经一周"}, "description"),
    ({"building": "8\x00"}, "building"),
    ({"estate_id": 0}, "estate_id"),
    ({"estate_id": "12"}, "estate_id"),
    ({"estate_id": 99999999}, "estate_id"),
    ({"estate_id": 2**70}, "estate_id"),
    ({"estate_id": None, "address": ""}, "body"),
    ({"estate_id": None, "address": "某路1号", "town": "火星镇"}, "town"),
    ({"address": "路" * 256}, "address"),
    ({"town": "t" * 33}, "town"),
    ({"building": "b" * 33}, "building"),
    ({"unit": ["1"]}, "unit"),
    ({"room": 1502}, "room"),
    ({"lat": 31.1}, "body"),
    ({"lat": 91, "lng": 121}, "lat"),
    ({"lat": 31, "lng": 181}, "lng"),
    ({"lat": "31", "lng": "121"}, "lat"),
    ({"photos": "abc"}, "photos"),
    ({"photos": ["not-an-id"]}, "photos.0"),
    ({"photos": ["f" * 32, "F" * 32]}, "photos.1"),
    ({"photos": ["0" * 32] * 10}, "photos"),
    ({"photos": ["f" * 32]}, "photos"),
    ({"anonymous": "yes"}, "anonymous"),
    ({"contact_phone": "12345"}, "contact_phone"),
    ({"contact_phone": 13812345678}, "contact_phone"),
    ({"client_request_id": "short"}, "client_request_id"),
    ({"client_request_id": "has spaces in it"}, "client_request_id"),
    ({"in_progress": "true"}, "in_progress"),
    ({"reporter_id": 1}, "reporter_id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
def test_every_field_of_a_report_is_validated(
    client: FlaskClient, session: Session, resident, change: dict, field: str
) -> None:
    _user, token = resident
    response = client.post(API + "/reports", json=valid_report(session, **change), headers=auth(token))
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == "validation_error"
    assert field in [e["field"] for e in body["errors"]]
    assert session.scalar(select(Case.id).where(Case.client_request_id == "req-abcdefgh")) is None


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b'{"description": ', json.dumps("a string").encode()]
)
def test_malformed_bodies_are_400(client: FlaskClient, resident, raw: bytes) -> None:
    _user, token = resident
    response = client.post(API + "/reports", data=raw, content_type="application/json", headers=auth(token))
    assert response.status_code == 400
    assert response.get_json()["code"] == "validation_error"


def test_daily_limit_is_a_429_in_chinese(make_app, session: Session) -> None:
    app = make_app(REPORTS_PER_DAY=2)
    client = app.test_client()
    _user, token = make_resident(session, "busy")
    for i in range(2):
        ok = client.post(
            API + "/reports",
            json=valid_report(session, client_request_id=f"busy-{i:06d}"),
            headers=auth(token),
        )
        assert ok.status_code == 201
    limited = client.post(
        API + "/reports", json=valid_report(session, client_request_id="busy-999999"), headers=auth(token)
    )
    assert limited.status_code == 429
    assert limited.get_json()["message"] == "每人每天最多提交 2 条反映，请明天再试"


def test_withdraw_and_rating_endpoints(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    filed = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()
    number = filed["tracking_no"]
    early = client.post(f"{API}/reports/{number}/rating", json={"score": "satisfied"}, headers=auth(token))
    assert early.status_code == 409 and early.get_json()["code"] == "illegal_transition"
    bad = client.post(f"{API}/reports/{number}/rating", json={"score": "great"}, headers=auth(token))
    assert bad.status_code == 400
    withdrawn = client.post(
        f"{API}/reports/{number}/withdraw", json={"reason": "已自行解决"}, headers=auth(token)
    )
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    twice = client.post(f"{API}/reports/{number}/withdraw", json={}, headers=auth(token))
    assert twice.status_code == 409
    assert "不能进行此操作" in twice.get_json()["message"]


def test_rating_after_resolution(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    number = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()[
        "tracking_no"
    ]
    case = get_case(session, number)
    officer = Actor(Role.OFFICER, 1, "队员", squad_id=case.squad_id)
    for name, extra in [
        ("sign", {}),
        ("investigate", {}),
        ("verify", {}),
        ("resolve", {"public_reply": "已拆除"}),
    ]:
        transition(session, case, name, officer, **extra)
    session.commit()
    rated = client.post(
        f"{API}/reports/{number}/rating",
        json={"score": "unsatisfied", "comment": "没拆干净"},
        headers=auth(token),
    )
    assert rated.status_code == 200
    assert rated.get_json()["status"] == "handling"


def test_other_residents_cannot_read_or_act_on_a_report(
    client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    number = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()[
        "tracking_no"
    ]
    _stranger, other = make_resident(session, "stranger")
    for method, suffix, body in [
        ("get", "", None),
        ("post", "/withdraw", {}),
        ("post", "/rating", {"score": "satisfied"}),
    ]:
        response = getattr(client, method)(f"{API}/reports/{number}{suffix}", json=body, headers=auth(other))
        assert response.status_code == 404, suffix
    assert client.get(f"{API}/reports/QP00000000-0000", headers=auth(token)).status_code == 404
    assert client.get(f"{API}/reports/../../etc", headers=auth(token)).status_code == 404


def test_similar_and_support_reveal_nothing_about_the_reporter(
    client: FlaskClient, session: Session, resident
) -> None:
    reporter, token = resident
    filed = client.post(
        API + "/reports", json=valid_report(session, anonymous=True), headers=auth(token)
    ).get_json()
    _neighbour, other = make_resident(session, "neighbour")
    similar = client.get(
        API + "/reports/similar",
        query_string={"estate_id": estate_id(session), "category": "illegal_construction", "building": "12"},
        headers=auth(other),
    )
    assert similar.status_code == 200
    found = similar.get_json()["data"]
    assert found[0]["tracking_no"] == filed["tracking_no"] and found[0]["same_building"] is True
    supported = client.post(f"{API}/reports/{filed['tracking_no']}/support", headers=auth(other))
    assert supported.get_json() == {"tracking_no": filed["tracking_no"], "supporter_count": 1, "added": True}
    view = client.get(f"{API}/reports/{filed['tracking_no']}", headers=auth(other))
    assert view.status_code == 200
    seen = view.get_json()
    assert seen["mine"] is False
    assert seen["description"] == "" and seen["contact_phone"] is None and seen["photos"] == []
    assert seen["room"] == "" and seen["unit"] == ""
    everything = (
        similar.get_data(as_text=True) + view.get_data(as_text=True) + supported.get_data(as_text=True)
    )
    for secret in ("13812345678", reporter.openid, reporter.nickname, "1502", "搭了一半"):
        assert secret not in everything


def test_similar_validates_its_query(client: FlaskClient, resident) -> None:
    _user, token = resident
    for params in (
        {},
        {"estate_id": "x"},
        {"estate_id": 1, "category": "nope"},
        {"estate_id": 1, "building": "b" * 40},
        {"estate_id": 2**70},
    ):
        assert (
            client.get(API + "/reports/similar", query_string=params, headers=auth(token)).status_code == 400
        )


def test_upload_then_attach_and_see_the_photo(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    uploaded = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes()), "x.png")}, headers=auth(token)
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    photo_id = uploaded.get_json()["id"]
    own = client.get(f"{API}/uploads/{photo_id}", headers=auth(token))
    assert own.status_code == 200 and own.mimetype == "image/png"
    filed = client.post(API + "/reports", json=valid_report(session, photos=[photo_id]), headers=auth(token))
    detail = client.get(f"{API}/reports/{filed.get_json()['tracking_no']}", headers=auth(token)).get_json()
    url = detail["photos"][0]["url"]
    assert client.get(url).status_code == 200  # the signed link works without a token, for <image>
    _stranger, other = make_resident(session, "stranger")
    assert client.get(f"{API}/uploads/{photo_id}", headers=auth(other)).status_code == 404
    assert client.get(f"{API}/uploads/{photo_id}?sig=forged").status_code == 404
    stolen = client.post(
        API + "/reports",
        json=valid_report(session, photos=[photo_id], client_request_id="req-stolen1"),
        headers=auth(other),
    )
    assert stolen.status_code == 400


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"this is not an image at all", 400),
        (b"", 400),
        (b"\x00" * (50 * 1024 * 1024), 413),
    ],
)
def test_bad_uploads_are_refused(client: FlaskClient, resident, payload: bytes, status: int) -> None:
    _user, token = resident
    response = client.post(
        API + "/uploads", data={"file": (io.BytesIO(payload), "x.jpg")}, headers=auth(token)
    )
    assert response.status_code == status
    assert response.get_json()["message"]


def test_upload_needs_the_file_field(client: FlaskClient, resident) -> None:
    _user, token = resident
    response = client.post(API + "/uploads", data={"other": "x"}, headers=auth(token))
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "file"
    as_text = client.post(API + "/uploads", data={"file": "abc"}, headers=auth(token))  # a field, not a file
    assert as_text.status_code == 400 and as_text.get_json()["errors"][0]["message"] == "请以文件形式上传照片"


@pytest.mark.parametrize("path", ["/reports", "/bot/messages", "/messages/read", "/subscriptions"])
def test_json_nested_past_the_recursion_limit_is_a_bad_request(
    client: FlaskClient, resident, path: str
) -> None:
    _user, token = resident
    deep = '{"text": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(API + path, data=deep, content_type="application/json", headers=auth(token))
    assert response.status_code == 400 and response.get_json()["code"] == "validation_error"


def test_a_decompression_bomb_is_refused(client: FlaskClient, resident) -> None:
    _user, token = resident
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    response = client.post(
        API + "/uploads", data={"file": (io.BytesIO(out.getvalue()), "bomb.png")}, headers=auth(token)
    )
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "file"


def test_messages_and_read(client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    number = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()[
        "tracking_no"
    ]
    case = get_case(session, number)
    transition(session, case, "sign", Actor(Role.OFFICER, 1, "队员", squad_id=case.squad_id))
    session.commit()
    inbox = client.get(API + "/messages", headers=auth(token)).get_json()
    assert inbox["unread"] == 2
    assert [m["body"] for m in inbox["data"]] == ["已签收", "已派至徐泾中队处理"]
    assert inbox["data"][0]["tracking_no"] == number
    first = inbox["data"][0]["id"]
    read = client.post(API + "/messages/read", json={"ids": [first]}, headers=auth(token)).get_json()
    assert read == {"updated": 1, "unread": 1}
    assert client.post(API + "/messages/read", json={}, headers=auth(token)).get_json() == {
        "updated": 1,
        "unread": 0,
    }
    assert client.post(API + "/messages/read", json={"ids": "all"}, headers=auth(token)).status_code == 400
    for ids in ([2**63], [-(2**63)], [0]):
        assert client.post(API + "/messages/read", json={"ids": ids}, headers=auth(token)).status_code == 400
    assert client.get(API + "/messages", query_string={"per_page": 0}, headers=auth(token)).status_code == 400


def test_subscriptions_record_credits_for_known_templates(wechat_app, session: Session) -> None:
    client = wechat_app.test_client()
    _user, token = make_resident(session, "subscriber")
    first = client.post(API + "/subscriptions", json={"template_id": "tmpl-case-status"}, headers=auth(token))
    assert first.status_code == 201 and first.get_json() == {"template_id": "tmpl-case-status", "credits": 1}
    second = client.post(
        API + "/subscriptions", json={"template_id": "tmpl-case-status"}, headers=auth(token)
    )
    assert second.get_json()["credits"] == 2
    unknown = client.post(API + "/subscriptions", json={"template_id": "someone-elses"}, headers=auth(token))
    assert unknown.status_code == 400 and unknown.get_json()["errors"][0]["message"] == "未知的订阅消息模板"
    assert (
        client.post(API + "/subscriptions", json={"template_id": ""}, headers=auth(token)).status_code == 400
    )


def test_squads_exist_for_every_town(session: Session) -> None:
    assert len(session.scalars(select(Squad)).all()) == 11
