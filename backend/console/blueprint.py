"""The console's blueprint, its login session and its authority checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from backend.cases.workflow import Actor, Role
from backend.db import get_session
from backend.errors import AppError
from backend.staff.models import StaffUser
from backend.staff.services import get_staff, staff_actor

console_bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)


@console_bp.before_request
def _load_staff() -> None:
    from backend.console import csrf

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


def require(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Log in first; then only `roles` (all staff roles if none are named) may use the page."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("staff") is None:
                return redirect(url_for("console.login", next=request.path))
            if roles and Role(g.staff.role) not in roles:
                return render_template("console/error.html", message="您没有权限访问此页面"), 403
            return view(*args, **kwargs)

        return wrapped

    return decorator


@console_bp.errorhandler(AppError)
def _app_error(exc: AppError) -> Any:
    # A refused action on a form: say why on the page it came from; a refused page: an error page. (The forms
    # where something is written, on the case page, intake, users and password, are drawn again instead, with
    # what was typed: see refusal.redisplay_when_refused.)
    if request.method == "POST" and exc.status in {400, 409} and request.referrer:
        flash(exc.message, "error")
        return redirect(request.referrer)
    return render_template("console/error.html", message=exc.message), exc.status


@console_bp.errorhandler(429)
def _too_many(_exc: Exception) -> Any:
    return render_template("console/login.html", error="登录尝试过于频繁，请稍后再试"), 429


@console_bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"staff": g.get("staff")}
