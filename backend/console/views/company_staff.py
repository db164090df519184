"""A property company's own accounts: its manager creates and disables its staff; each staff member gets a
one-time code to bind their WeChat account."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import console_bp, current_actor, current_staff, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, get_session
from backend.property.binding import CODE_TTL, bound_user, issue_binding_code, unbind_wechat
from backend.property.companies import company_overview
from backend.staff.models import StaffUser
from backend.staff.services import (
    MIN_PASSWORD,
    company_manager,
    create_company_staff,
    disable_staff,
    enable_staff,
    get_staff,
    list_company_staff,
)
from backend.text import Password

PROPERTY = Role.PROPERTY_STAFF


@console_bp.get("/company")
@require(PROPERTY)
def company_home() -> ResponseReturnValue:
    """The company's home for its staff: the company, the estates it manages, the way to bind WeChat."""
    staff = current_staff()
    db = get_session()
    assert staff.company_id is not None  # a property-staff account belongs to a company
    return render_template(
        "console/company_staff_home.html",
        overview=company_overview(db, staff.company_id),
        bound=bound_user(db, staff) is not None,
    )


# ------------------------------------------------------------------------------------ the manager's page


class CompanyStaffForm(Form):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    password: Password = Field(min_length=1, max_length=256)


@console_bp.get("/company/staff")
@require(PROPERTY)
def company_staff() -> ResponseReturnValue:
    return _staff_page(NO_REFUSAL)


def _staff_page(refused: Refusal, **_: Any) -> str:
    db = get_session()
    manager = company_manager(db, current_actor())
    assert manager.company_id is not None
    return render_template(
        "console/company_staff.html",
        company=manager.company,
        accounts=list_company_staff(db, manager.company_id),
        refused=refused,
        min_password=MIN_PASSWORD,
    )


@console_bp.post("/company/staff")
@require(PROPERTY)
@redisplay_when_refused(_staff_page)
def company_staff_post() -> ResponseReturnValue:
    form = parse(CompanyStaffForm)
    db = get_session()
    staff = create_company_staff(
        db,
        current_actor(),
        username=form.username,
        display_name=form.display_name,
        password=form.password,
        ip=client_ip(),
        now=now(),
    )
    db.commit()
    flash(f"已创建账号 {staff.username}", "ok")
    return redirect(url_for("console.company_staff"))


STAFF_ACTIONS = {
    "disable": (disable_staff, "已停用账号 {}，其所有登录已退出，绑定的微信也不能再以本公司身份操作"),
    "enable": (enable_staff, "已启用账号 {}"),
}


@console_bp.post(f"/company/staff/<int(max={MAX_ROW_ID}):staff_id>/<action>")
@require(PROPERTY)
@redisplay_when_refused(_staff_page)
def company_staff_action(staff_id: int, action: str) -> ResponseReturnValue:
    if action not in STAFF_ACTIONS:
        abort(404)
    db = get_session()
    staff = get_staff(db, staff_id)
    if staff is None:
        abort(404)
    act, done = STAFF_ACTIONS[action]
    act(db, staff, current_actor(), ip=client_ip(), now=now())  # refuses another company's account
    db.commit()
    flash(done.format(staff.username), "ok")
    return redirect(url_for("console.company_staff"))


# --------------------------------------------------------------------------------- binding WeChat


@console_bp.get("/binding")
@require(PROPERTY)
def binding() -> ResponseReturnValue:
    return _binding_page(current_staff(), code=None)


def _binding_page(staff: StaffUser, *, code: str | None) -> ResponseReturnValue:
    page = render_template(
        "console/binding.html",
        user=bound_user(get_session(), staff),
        code=code,
        minutes=int(CODE_TTL.total_seconds() // 60),
    )
    # a code is shown once: not kept by the browser's cache nor shown again by its back button
    return page, 200, {"Cache-Control": "no-store"}


@console_bp.post("/binding/code")
@require(PROPERTY)
def binding_code() -> ResponseReturnValue:
    db = get_session()
    staff = current_staff()
    code = issue_binding_code(db, staff, now=now())
    db.commit()
    return _binding_page(staff, code=code)


@console_bp.post("/binding/unbind")
@require(PROPERTY)
def binding_unbind() -> ResponseReturnValue:
    db = get_session()
    unbound = unbind_wechat(db, current_staff(), via="console", ip=client_ip(), now=now())
    db.commit()
    flash("已解除微信绑定，该微信即刻不能再以本公司身份操作" if unbound else "此账号没有绑定微信", "ok")
    return redirect(url_for("console.binding"))
