"""Property staff in the mini-program: binding with the console's one-time code, who they are afterwards, and
unbinding or disabling in the console taking effect at the very next request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.clock import MovableClock
from backend.db import utcnow
from backend.org.models import PropertyCompany
from backend.property.binding import REFUSED, issue_binding_code
from backend.staff.models import StaffUser
from miniprogram_api.staff import binding_limiter
from tests.support.accounts import make_resident
from tests.support.console import login, post
from tests.support.mp_api import API, auth
from tests.support.property import make_company, make_property_staff

BINDING, ME = API + "/staff/binding", API + "/staff/me"


@pytest.fixture(autouse=True)
def _fresh_attempt_counts() -> Iterator[None]:
    binding_limiter.reset()  # ids repeat across the suite's rolled-back tests; so would their counts
    yield
    binding_limiter.reset()


@pytest.fixture
def company(session: Session) -> PropertyCompany:
    return make_company(session, "小程序绑定物业", ["康虹花园"])


@pytest.fixture
def staff(session: Session, company: PropertyCompany) -> StaffUser:
    staff = make_property_staff(session, company, name="孙物业")
    session.commit()
    return staff


def a_code(session: Session, staff: StaffUser) -> str:
    code = issue_binding_code(session, staff, now=utcnow())
    session.commit()
    return code


def bound_token(client: FlaskClient, session: Session, staff: StaffUser, name: str = "wx_sun") -> str:
    _user, token = make_resident(session, name)
    session.commit()
    response = client.post(BINDING, json={"code": a_code(session, staff)}, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return token


def test_binding_answers_who_the_user_now_is(
    client: FlaskClient, session: Session, staff: StaffUser, company: PropertyCompany
) -> None:
    _user, token = make_resident(session, "wx_sun")
    session.commit()
    before = client.get(ME, headers=auth(token))
    assert before.status_code == 403 and before.get_json()["code"] == "not_property_staff"
    response = client.post(BINDING, json={"code": a_code(session, staff)}, headers=auth(token))
    expected = {"name": "孙物业", "company": {"id": company.id, "name": "小程序绑定物业"}, "manager": False}
    assert response.status_code == 200 and response.get_json() == expected
    assert client.get(ME, headers=auth(token)).get_json() == expected


def test_a_manager_is_told_so(client: FlaskClient, session: Session, company: PropertyCompany) -> None:
    manager = make_property_staff(session, company, manager=True, name="周经理")
    session.commit()
    token = bound_token(client, session, manager)
    assert client.get(ME, headers=auth(token)).get_json()["manager"] is True


def test_unbinding_in_the_console_takes_effect_at_the_next_request(
    app, client: FlaskClient, session: Session, staff: StaffUser
) -> None:
    token = bound_token(client, session, staff)
    assert client.get(ME, headers=auth(token)).status_code == 200
    console = login(app.test_client(), staff.username)
    assert "已绑定微信" in console.get("/console/binding").get_data(as_text=True)
    assert post(console, "/console/binding/unbind").status_code == 302
    after = client.get(ME, headers=auth(token))
    assert after.status_code == 403 and after.get_json()["code"] == "not_property_staff"
    assert "尚未绑定微信" in console.get("/console/binding").get_data(as_text=True)


def test_disabling_the_account_in_the_console_takes_effect_at_the_next_request(
    app, client: FlaskClient, session: Session, staff: StaffUser, company: PropertyCompany
) -> None:
    token = bound_token(client, session, staff)
    own_console = login(app.test_client(), staff.username)
    manager = make_property_staff(session, company, manager=True)
    session.commit()
    assert client.get(ME, headers=auth(token)).status_code == 200
    done = post(login(app.test_client(), manager.username), f"/console/company/staff/{staff.id}/disable")
    assert done.status_code == 302
    assert client.get(ME, headers=auth(token)).status_code == 403
    assert own_console.get("/console/company").status_code == 302  # the console session ended too


def test_unbinding_in_the_mini_program(client: FlaskClient, session: Session, staff: StaffUser) -> None:
    token = bound_token(client, session, staff)
    assert client.delete(BINDING, headers=auth(token)).status_code == 204
    assert client.get(ME, headers=auth(token)).status_code == 403
    assert client.delete(BINDING, headers=auth(token)).status_code == 204  # nothing bound: the same answer
    session.expire_all()
    assert session.get_one(StaffUser, staff.id).wechat_user_id is None


def test_expired_unknown_and_reused_codes_get_the_same_refusal(
    app, client: FlaskClient, session: Session, staff: StaffUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    _first, first_token = make_resident(session, "wx_first")
    _second, second_token = make_resident(session, "wx_second")
    session.commit()
    code = a_code(session, staff)
    assert client.post(BINDING, json={"code": code}, headers=auth(first_token)).status_code == 200
    answers = [client.post(BINDING, json={"code": code}, headers=auth(second_token))]  # reused
    answers.append(client.post(BINDING, json={"code": "QQQQ4444"}, headers=auth(second_token)))  # unknown
    late = a_code(session, staff)
    monkeypatch.setitem(app.extensions, "clock", MovableClock(utcnow() + dt.timedelta(minutes=10, seconds=1)))
    answers.append(client.post(BINDING, json={"code": late}, headers=auth(second_token)))  # expired
    for answer in answers:
        assert answer.status_code == 400
        body = answer.get_json()
        assert (body["code"], body["message"], body["errors"][0]["field"]) == (
            "validation_error",
            REFUSED,
            "code",
        )


def test_five_refused_codes_in_ten_minutes_and_the_sixth_try_is_429(
    client: FlaskClient, session: Session, staff: StaffUser
) -> None:
    _user, token = make_resident(session, "wx_guesser")
    _other, other_token = make_resident(session, "wx_honest")
    session.commit()
    for _ in range(4):
        assert client.post(BINDING, json={"code": "WRONG444"}, headers=auth(token)).status_code == 400
    # a binding that works does not count; a malformed body never reaches the code check
    assert client.post(BINDING, json={"code": a_code(session, staff)}, headers=auth(token)).status_code == 200
    assert client.post(BINDING, json={"code": 12345678}, headers=auth(token)).status_code == 400
    assert client.post(BINDING, json={"code": "WRONG444"}, headers=auth(token)).status_code == 400
    blocked = client.post(BINDING, json={"code": a_code(session, staff)}, headers=auth(token))
    assert blocked.status_code == 429
    body = blocked.get_json()
    assert body["code"] == "too_many_binding_attempts" and "10 分钟" in body["message"]
    assert int(blocked.headers["Retry-After"]) > 0
    # counted per user: another WeChat account on the same address binds
    assert (
        client.post(BINDING, json={"code": a_code(session, staff)}, headers=auth(other_token)).status_code
        == 200
    )


def test_every_staff_endpoint_needs_a_token(client: FlaskClient) -> None:
    for method, path in (("post", BINDING), ("delete", BINDING), ("get", ME)):
        response = getattr(client, method)(path, json={"code": "ABCD4567"} if method == "post" else None)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["code"] == "missing_token"


def test_the_body_is_checked_before_the_code(client: FlaskClient, resident) -> None:
    _user, token = resident
    for body in ({}, {"code": ""}, {"code": "A" * 33}, {"code": "ABCD4567", "staff": 1}):
        response = client.post(BINDING, json=body, headers=auth(token))
        assert response.status_code == 400 and response.get_json()["code"] == "validation_error", body


def test_the_endpoints_are_documented(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    post_binding = paths[BINDING]["post"]
    assert post_binding["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StaffBindingBody"
    )
    assert {"200", "400", "401", "429"} <= set(post_binding["responses"])
    assert post_binding["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StaffMeOut"
    )
    assert {"204", "401"} <= set(paths[BINDING]["delete"]["responses"])
    assert {"200", "401", "403"} <= set(paths[ME]["get"]["responses"])
