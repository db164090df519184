"""Logging in through WeChat's code-to-session (against the local stand-in), tokens, and the development login."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import create_app, migrate
from backend.accounts.models import AuthToken, User

API = "/api/mp/v1"


def test_login_exchanges_a_code_for_our_own_token(wechat_app, wechat_standin, session: Session) -> None:
    client = wechat_app.test_client()
    response = client.post(API + "/auth/login", json={"code": "code-alice"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    user = session.scalar(select(User).where(User.openid == wechat_standin.openid_for("code-alice")))
    assert user is not None and user.wechat_session_key  # kept on the server...
    assert user.wechat_session_key not in response.get_data(as_text=True)  # ...and never sent back
    assert user.openid not in response.get_data(as_text=True)
    stored = session.scalar(select(AuthToken.token_hash).where(AuthToken.user_id == user.id))
    assert stored != body["token"]  # only a hash is stored
    me = client.get(API + "/reports", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200

    again = client.post(API + "/auth/login", json={"code": "code-alice:2"}).get_json()
    assert again["token"] != body["token"]
    assert session.scalar(select(User.id).where(User.openid == user.openid)) == user.id


@pytest.mark.parametrize(
    ("errcode", "status", "code", "message"),
    [
        (40029, 400, "wechat_invalid_code", "登录凭证无效，请重新进入小程序"),
        (45011, 429, "rate_limited", "请求太频繁，请稍后再试"),
        (-1, 503, "service_unavailable", "微信服务繁忙，请稍后再试"),
    ],
)
def test_wechat_errors_become_clear_4xx_and_503(
    wechat_app, wechat_standin, errcode: int, status: int, code: str, message: str
) -> None:
    wechat_standin.fail_code("code-bob", errcode)
    response = wechat_app.test_client().post(API + "/auth/login", json={"code": "code-bob"})
    assert response.status_code == status
    body = response.get_json()
    assert (body["code"], body["message"]) == (code, message)
    assert "code-bob" not in response.get_data(as_text=True)


def test_a_code_works_once(wechat_app) -> None:
    client = wechat_app.test_client()
    assert client.post(API + "/auth/login", json={"code": "code-carol"}).status_code == 200
    reused = client.post(API + "/auth/login", json={"code": "code-carol"})
    assert reused.status_code == 400 and reused.get_json()["code"] == "wechat_invalid_code"


def test_wechat_unreachable_is_503(make_app) -> None:
    app = make_app(WECHAT_APP_ID="wx1", WECHAT_APP_SECRET="s", WECHAT_API_BASE_URL="http://127.0.0.1:9/")
    response = app.test_client().post(API + "/auth/login", json={"code": "code-dave"})
    assert response.status_code == 503


@pytest.mark.parametrize(
    "body", [{}, {"code": ""}, {"code": 123}, {"code": "x" * 129}, {"code": "c", "extra": 1}]
)
def test_login_validates_its_body(wechat_app, body: dict) -> None:
    assert wechat_app.test_client().post(API + "/auth/login", json=body).status_code == 400


def test_logout_revokes_the_token(client: FlaskClient, resident) -> None:
    _user, token = resident
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(API + "/auth/logout", headers=headers).status_code == 204
    assert client.get(API + "/reports", headers=headers).status_code == 401


def test_login_without_wechat_configured_is_503(client: FlaskClient, app) -> None:
    if app.config["QINGPU"].wechat_configured:
        pytest.fail("the suite's app must not have WeChat credentials")
    response = client.post(API + "/auth/login", json={"code": "code-x"})
    assert response.status_code == 503 and response.get_json()["code"] == "wechat_not_configured"


def test_dev_login_exists_only_on_the_embedded_defaults(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    migrate.upgrade(url)
    embedded = create_app({"APP_ENV": "development", "DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path)})
    client = embedded.test_client()
    first = client.post(API + "/auth/dev-login", json={"nickname": "小王"})
    assert first.status_code == 200
    token = first.get_json()["token"]
    assert client.get(API + "/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.post(API + "/auth/dev-login", json={"nickname": ""}).status_code == 400
    assert "/api/mp/v1/auth/dev-login" in client.get("/api/openapi.json").get_json()["paths"]

    with_wechat = create_app(
        {"DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path), "WECHAT_APP_ID": "wx1", "WECHAT_APP_SECRET": "s"}
    )
    assert (
        with_wechat.test_client().post(API + "/auth/dev-login", json={"nickname": "小王"}).status_code == 404
    )
    on_mysql = create_app({"DATABASE_URL": "mysql+pymysql://u@127.0.0.1:1/x", "INSTANCE_DIR": str(tmp_path)})
    missing = on_mysql.test_client().post(API + "/auth/dev-login", json={"nickname": "小王"})
    assert missing.status_code == 404
    assert (
        "/api/mp/v1/auth/dev-login" not in on_mysql.test_client().get("/api/openapi.json").get_json()["paths"]
    )
