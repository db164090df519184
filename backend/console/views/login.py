"""Logging in to the console and out of it, and changing one's own password."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.clock import now
from backend.console.blueprint import console_bp, current_staff, limiter, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import get_session
from backend.errors import Unauthorized, ValidationFailed
from backend.staff.services import MIN_PASSWORD, authenticate_staff, change_own_password, log_out_staff
from backend.text import Password


class LoginForm(Form):
    username: str = Field(min_length=1, max_length=64)
    password: Password = Field(min_length=1, max_length=256)


@console_bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("console/login.html")


def _login_failed(response: Response) -> bool:
    """Only a refused login counts against the address's limit: an office of officers behind one address
    logging in every morning must not lock itself out, while guessing passwords is still throttled."""
    return response.status_code >= 400


@console_bp.post("/login")
@limiter.limit(lambda: current_app.config["QINGPU"].CONSOLE_LOGIN_RATE, deduct_when=_login_failed)
def login_post() -> ResponseReturnValue:
    try:
        form = parse(LoginForm)
    except ValidationFailed:
        return render_template("console/login.html", error="请输入用户名和密码"), 400
    db = get_session()
    try:
        staff = authenticate_staff(db, form.username, form.password, ip=client_ip(), now=now())
    except Unauthorized as exc:  # every refusal looks the same from outside
        db.commit()  # keep the failed-attempt count and the audit entry
        return render_template("console/login.html", error=exc.message), 401
    db.commit()
    session.clear()
    session["staff_id"], session["staff_sv"] = staff.id, staff.session_version
    return redirect(_next_page(request.args.get("next", "")))


def _next_page(target: str) -> str:
    """Where to go after logging in: a console page the login page was sent from, else the home of the
    account's role (the inbox, or a property company's page)."""
    if target.startswith("/console/") and target.isprintable() and "\\" not in target:
        return target
    return url_for("console.home")


@console_bp.post("/logout")
def logout() -> ResponseReturnValue:
    staff = g.get("staff")
    if staff is not None:
        db = get_session()
        log_out_staff(db, staff, ip=client_ip(), now=now())  # every copy of the cookie stops working
        db.commit()
    session.clear()
    return redirect(url_for("console.login"))


class PasswordForm(Form):
    current_password: Password = Field("", max_length=256)
    new_password: Password = Field("", max_length=256)
    confirm_password: Password = Field("", max_length=256)


@console_bp.get("/password")
@require()
def password() -> ResponseReturnValue:
    return _password_page(NO_REFUSAL)


def _password_page(refused: Refusal, **_: Any) -> str:
    return render_template("console/password.html", refused=refused, min_password=MIN_PASSWORD)


@console_bp.post("/password")
@require()
@redisplay_when_refused(_password_page)
def password_post() -> ResponseReturnValue:
    form = parse(PasswordForm)
    db = get_session()
    try:
        staff = change_own_password(
            db,
            current_staff(),
            form.current_password,
            form.new_password,
            form.confirm_password,
            ip=client_ip(),
            now=now(),
        )
    except ValidationFailed:
        db.commit()  # keep the count of wrong current passwords (it leads to the lockout) and its audit entry
        raise
    db.commit()
    session["staff_sv"] = staff.session_version  # this browser stays in; every other session has ended
    flash("密码已修改，此账号在其他设备上的登录已全部退出", "ok")
    return redirect(url_for("console.password"))
