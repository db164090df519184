"""Ending console sessions: logging out, changing a password, and an admin disabling an account, signing it
out everywhere or resetting its password each end every earlier session, including a copied cookie; and the
login limit counts only failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.console.blueprint import limiter
from backend.staff.models import StaffUser
from tests.support.console import PASSWORD, csrf_token, login, post

NEW_PASSWORD = "a-brand-new-passphrase"


def saved_cookies(client: FlaskClient) -> dict[str, str]:
    """A copy of the client's cookie jar, as a thief or a second browser would hold it."""
    return {key[2]: cookie.value for key, cookie in client._cookies.items()}


def replay(client: FlaskClient, cookies: dict[str, str]) -> FlaskClient:
    """The client with exactly the cookies saved earlier."""
    client._cookies.clear()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def sent_to_login(client: FlaskClient) -> bool:
    response = client.get("/console/inbox")
    return response.status_code == 302 and response.location.startswith("/console/login")


def audited(session: Session, action: str, staff: StaffUser) -> bool:
    return (
        session.scalar(
            select(AuditEntry.id).where(AuditEntry.action == action, AuditEntry.target_id == str(staff.id))
        )
        is not None
    )


def test_logging_out_ends_the_session_even_for_a_copy_of_its_cookie(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    elsewhere = login(client.application.test_client(), "t_officer")  # the same officer on a phone
    cookies = saved_cookies(client)
    assert not sent_to_login(replay(client.application.test_client(), cookies))  # the copy works until then
    assert post(client, "/console/logout").location == "/console/login"
    assert sent_to_login(replay(client, cookies))
    assert sent_to_login(elsewhere)
    assert audited(session, "staff.logout", accounts["officer"])


def test_changing_ones_password_keeps_this_browser_in_and_ends_every_other_session(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    elsewhere = login(client.application.test_client(), "t_officer")
    cookies = saved_cookies(client)
    changed = post(
        client,
        "/console/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert client.get("/console/inbox").status_code == 200  # a fresh session with the new version
    assert sent_to_login(elsewhere)
    assert sent_to_login(replay(client.application.test_client(), cookies))
    assert audited(session, "staff.password_change", accounts["officer"])
    fresh = client.application.test_client()
    refused = fresh.post(
        "/console/login",
        data={"username": "t_officer", "password": PASSWORD, "csrf_token": csrf_token(fresh)},
    )
    assert refused.status_code == 401
    login(fresh, "t_officer", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current_password": "wrong-password", "new_password": NEW_PASSWORD}, "current_password", "当前密码不正确"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password", "密码至少 10 位"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "other-new-pass"},
         "confirm_password", "两次输入的新密码不一致"),
    ],
)  # fmt: skip
def test_a_refused_password_change_says_why_beside_the_field_and_ends_nothing(
    client: FlaskClient, session: Session, accounts, form: dict, field: str, message: str
) -> None:
    login(client, "t_officer")
    refused = post(client, "/console/password", {"confirm_password": NEW_PASSWORD, **form})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    beside = html.index(f'name="{field}"')
    assert html.index(message, beside) - beside < 300  # the reason comes right after its field
    assert NEW_PASSWORD not in html and PASSWORD not in html  # a password is never written into the page
    assert client.get("/console/inbox").status_code == 200
    session.expire_all()
    assert (
        session.get(StaffUser, accounts["officer"].id).session_version == accounts["officer"].session_version
    )


def test_wrong_current_passwords_count_towards_the_lockout(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    wrong = {"current_password": "guess", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    for _ in range(5):
        assert post(client, "/console/password", wrong).status_code == 400
    session.expire_all()
    assert session.get(StaffUser, accounts["officer"].id).locked_until is not None
    right = {**wrong, "current_password": PASSWORD}
    assert "尝试次数过多" in post(client, "/console/password", right).get_data(as_text=True)
    assert audited(session, "staff.password_change_failed", accounts["officer"])


ADMIN_ENDINGS: dict[str, tuple[str, dict[str, str], str]] = {
    "disable": ("disable", {}, "staff.disable"),
    "sign out everywhere": ("sign-out", {}, "staff.end_sessions"),
    "password reset": ("password", {"password": NEW_PASSWORD}, "staff.password_reset"),
}


@pytest.mark.parametrize("ending", ADMIN_ENDINGS, ids=list(ADMIN_ENDINGS))
def test_an_admin_ends_every_session_of_an_account(
    client: FlaskClient, session: Session, accounts, ending: str
) -> None:
    path, form, action = ADMIN_ENDINGS[ending]
    officer = accounts["officer"]
    login(client, "t_officer")
    cookies = saved_cookies(client)
    admin = login(client.application.test_client(), "t_admin")
    done = post(admin, f"/console/users/{officer.id}/{path}", form)
    assert done.status_code == 302 and done.location == "/console/users"
    assert sent_to_login(replay(client, cookies))
    assert audited(session, action, officer)
    assert admin.get("/console/inbox").status_code == 200  # the admin's own session is untouched


def test_a_disabled_account_cannot_log_in_until_enabled(
    client: FlaskClient, session: Session, accounts
) -> None:
    officer = accounts["officer"]
    admin = login(client, "t_admin")
    post(admin, f"/console/users/{officer.id}/disable")
    assert "已停用" in admin.get("/console/users").get_data(as_text=True)
    other = client.application.test_client()
    refused = other.post(
        "/console/login",
        data={"username": "t_officer", "password": PASSWORD, "csrf_token": csrf_token(other)},
    )
    assert refused.status_code == 401
    assert post(admin, f"/console/users/{officer.id}/enable").status_code == 302
    login(other, "t_officer")
    assert audited(session, "staff.enable", officer)


def test_a_password_reset_lifts_the_lockout(client: FlaskClient, session: Session, accounts) -> None:
    officer = accounts["officer"]
    for _ in range(5):
        client.post(
            "/console/login",
            data={"username": "t_officer", "password": "bad", "csrf_token": csrf_token(client)},
        )
    admin = login(client.application.test_client(), "t_admin")
    assert post(admin, f"/console/users/{officer.id}/password", {"password": NEW_PASSWORD}).status_code == 302
    login(client, "t_officer", NEW_PASSWORD)


def test_an_admin_cannot_disable_themselves_nor_reset_their_own_password_here(
    client: FlaskClient, session: Session, accounts
) -> None:
    admin = accounts["admin"]
    login(client, "t_admin")
    refused = post(client, f"/console/users/{admin.id}/disable")
    assert refused.status_code == 409 and "不能停用自己的账号" in refused.get_data(as_text=True)
    own = post(client, f"/console/users/{admin.id}/password", {"password": NEW_PASSWORD})
    assert own.status_code == 400 and "修改密码" in own.get_data(as_text=True)
    short = post(client, f"/console/users/{accounts['officer'].id}/password", {"password": "short"})
    assert short.status_code == 400 and "密码至少 10 位" in short.get_data(as_text=True)
    assert client.get("/console/inbox").status_code == 200
    session.expire_all()
    assert session.get(StaffUser, admin.id).active


@pytest.mark.parametrize("role", ["officer", "leader", "supervisor", "editor"])
def test_only_an_admin_manages_accounts(client: FlaskClient, session: Session, accounts, role: str) -> None:
    target = accounts["officer2"]
    version = target.session_version
    login(client, accounts[role].username)
    for path, form in [
        ("disable", {}),
        ("enable", {}),
        ("sign-out", {}),
        ("password", {"password": NEW_PASSWORD}),
    ]:
        assert post(client, f"/console/users/{target.id}/{path}", form).status_code == 403, path
    session.expire_all()
    fresh = session.get(StaffUser, target.id)
    assert fresh.active and fresh.session_version == version


def test_account_actions_need_the_csrf_token(client: FlaskClient, session: Session, accounts) -> None:
    target = accounts["officer2"]
    login(client, "t_admin")
    for path in ("disable", "sign-out"):
        assert client.post(f"/console/users/{target.id}/{path}").status_code == 400
    assert client.post("/console/password", data={"current_password": PASSWORD}).status_code == 400
    assert client.post("/console/logout").status_code == 400
    session.expire_all()
    assert session.get(StaffUser, target.id).active
    assert client.get("/console/inbox").status_code == 200


def test_the_password_page_is_for_every_logged_in_account(client: FlaskClient, accounts) -> None:
    assert client.get("/console/password").location.startswith("/console/login")
    for name in ("officer", "editor", "property"):
        other = login(client.application.test_client(), accounts[name].username)
        assert "修改密码" in other.get("/console/password").get_data(as_text=True)


# ------------------------------------------------------------------------------------ the login limit


def _attempts(make_app: Callable, password: str, times: int) -> list[int]:
    app = make_app(CONSOLE_LOGIN_RATE="3 per minute")
    with app.app_context():
        limiter.reset()  # the counts of earlier tests in this minute (kept in Redis in CI)
    client = app.test_client()
    return [
        client.post(
            "/console/login",
            data={"username": "t_officer", "password": password, "csrf_token": csrf_token(client)},
        ).status_code
        for _ in range(times)
    ]


def test_successful_logins_do_not_count_against_the_limit(make_app, accounts) -> None:
    assert _attempts(make_app, PASSWORD, 8) == [302] * 8  # an office behind one address, every morning


def test_the_same_number_of_failures_is_throttled(make_app, accounts) -> None:
    assert _attempts(make_app, "wrong-password", 8) == [401] * 3 + [429] * 5
