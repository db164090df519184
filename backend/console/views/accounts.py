"""Staff accounts, for the administrator: creating, disabling, enabling, signing out, resetting passwords."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select

from backend.audit.services import record_audit
from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.org.models import PropertyCompany, Squad
from backend.org.services import list_squads
from backend.staff.models import StaffUser
from backend.staff.services import (
    MIN_PASSWORD,
    ROLE_LABELS,
    STAFF_ROLES,
    create_staff,
    disable_staff,
    enable_staff,
    end_staff_sessions,
    get_staff,
    list_staff,
    make_company_manager,
    reset_staff_password,
    unmake_company_manager,
)
from backend.text import Password


class UserForm(Form):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=16)
    password: Password = Field(min_length=1, max_length=256)
    squad: RowId | None = None
    company: RowId | None = None


@console_bp.get("/users")
@require(Role.ADMIN)
def users() -> ResponseReturnValue:
    return _users_page(NO_REFUSAL)


def _users_page(refused: Refusal, **_: Any) -> str:
    db = get_session()
    return render_template(
        "console/users.html",
        users=list_staff(db),
        roles=[(r.value, ROLE_LABELS[r]) for r in STAFF_ROLES],
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        squads=list_squads(db),
        companies=list(db.scalars(select(PropertyCompany).order_by(PropertyCompany.name))),
        refused=refused,
        min_password=MIN_PASSWORD,
        now=now(),
    )


@console_bp.post("/users")
@require(Role.ADMIN)
@redisplay_when_refused(_users_page)
def users_post() -> ResponseReturnValue:
    form = parse(UserForm)
    db = get_session()
    staff = create_staff(
        db,
        username=form.username,
        display_name=form.display_name,
        role=form.role,
        password=form.password,
        squad=db.get(Squad, form.squad) if form.squad else None,
        company=db.get(PropertyCompany, form.company) if form.company else None,
    )
    record_audit(
        db, current_actor(), "staff.create", "staff", staff.id, detail={"role": staff.role}, now=now()
    )
    db.commit()
    flash(f"已创建账号 {staff.username}", "ok")
    return redirect(url_for("console.users"))


def _account(staff_id: int) -> StaffUser:
    staff = get_staff(get_session(), staff_id)
    if staff is None:
        abort(404)
    return staff


# What an admin may do to an account with one button, and what the page says after.
ACCOUNT_ACTIONS = {
    "disable": (disable_staff, "已停用账号 {}，其所有登录已退出"),
    "enable": (enable_staff, "已启用账号 {}"),
    "sign-out": (end_staff_sessions, "已将账号 {} 强制下线"),
    "make-manager": (make_company_manager, "已将账号 {} 设为其物业公司的管理员"),
    "unmake-manager": (unmake_company_manager, "已取消账号 {} 的物业公司管理员身份"),
}


@console_bp.post(f"/users/<int(max={MAX_ROW_ID}):staff_id>/<action>")
@require(Role.ADMIN)
@redisplay_when_refused(_users_page)
def user_action(staff_id: int, action: str) -> ResponseReturnValue:
    if action not in ACCOUNT_ACTIONS:
        abort(404)
    db = get_session()
    staff = _account(staff_id)
    act, done = ACCOUNT_ACTIONS[action]
    act(db, staff, current_actor(), ip=client_ip(), now=now())
    db.commit()
    flash(done.format(staff.username), "ok")
    return redirect(url_for("console.users"))


class ResetPasswordForm(Form):
    password: Password = Field("", max_length=256)


@console_bp.post(f"/users/<int(max={MAX_ROW_ID}):staff_id>/password")
@require(Role.ADMIN)
@redisplay_when_refused(_users_page)
def user_password(staff_id: int) -> ResponseReturnValue:
    form = parse(ResetPasswordForm)
    db = get_session()
    staff = _account(staff_id)
    reset_staff_password(db, staff, current_actor(), form.password, ip=client_ip(), now=now())
    db.commit()
    flash(f"已重置账号 {staff.username} 的密码，其所有登录已退出", "ok")
    return redirect(url_for("console.users"))
