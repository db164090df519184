"""The console's blueprint, its CSRF check and login throttle, its login session and its authority checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect

from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.db import get_session
from backend.errors import AppError
from backend.limits import ViewLimiter
from backend.staff.models import StaffUser
from backend.staff.services import get_staff, staff_actor

P = ParamSpec("P")
View = Callable[P, ResponseReturnValue]

console_bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
# Unbound until the console's init_app: only the console's forms carry a CSRF token (checked in _load_staff),
# and only its login is throttled.
csrf = CSRFProtect()
limiter = ViewLimiter(key_func=get_remote_address, default_limits=[], strategy="fixed-window")

ALL_STAFF = (Role.OFFICER, Role.SQUAD_LEADER, Role.SUPERVISOR, Role.ADMIN)
BUREAU = tuple(BUREAU_ROLES)


@console_bp.before_request
def _load_staff() -> None:
    if request.method == "POST":
        csrf.protect()
    g.staff = None
    staff_id, version = session.get("staff_id"), session.get("staff_sv")
    if staff_id is not None:
        staff = get_staff(get_session(), staff_id)
        if staff is not None and staff.active and staff.session_version == version:
            g.staff = staff
        else:
            session.clear()


def current_staff() -> StaffUser:
    return g.staff


def current_actor() -> Actor:
    return staff_actor(g.staff)


def require(*roles: Role) -> Callable[[View[P]], View[P]]:
    """Log in first; then only `roles` (all staff roles if none are named) may use the page."""

    def decorator(view: View[P]) -> View[P]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            if g.get("staff") is None:
                return redirect(url_for("console.login", next=request.path))
            if roles and Role(g.staff.role) not in roles:
                return render_template("console/error.html", message="您没有权限访问此页面"), 403
            return view(*args, **kwargs)

        return wrapped

    return decorator


@console_bp.errorhandler(AppError)
def _app_error(exc: AppError) -> ResponseReturnValue:
    # A refused action on a form: say why on the page it came from; a refused page: an error page. (The forms
    # where something is written, on the case page, intake, users and password, are drawn again instead, with
    # what was typed: see refusal.redisplay_when_refused.)
    if request.method == "POST" and exc.status in {400, 409} and request.referrer:
        flash(exc.message, "error")
        return redirect(request.referrer)
    return render_template("console/error.html", message=exc.message), exc.status


@console_bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    return render_template("console/error.html", message="页面已过期，请刷新后重试"), 400


@console_bp.errorhandler(429)
def _too_many(_exc: Exception) -> ResponseReturnValue:
    return render_template("console/login.html", error="登录尝试过于频繁，请稍后再试"), 429


@console_bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"staff": g.get("staff")}
