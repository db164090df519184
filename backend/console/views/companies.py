"""The bureau's pages about property companies: the companies, their contact and the estates they manage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.property.companies import (
    ADDRESS_MAX,
    CONTACT_MAX,
    NAME_MAX,
    CompanyDetails,
    assign_estate,
    company_overview,
    create_company,
    end_management,
    estate_choices,
    estate_history,
    get_company,
    get_estate,
    list_companies,
    update_company,
)
from backend.staff.services import ROLE_LABELS
from backend.workcalendar import SHANGHAI


class CompanyForm(Form):
    name: str = Field("", max_length=NAME_MAX)
    credit_code: str = Field("", max_length=40)
    contact_name: str = Field("", max_length=CONTACT_MAX)
    contact_phone: str = Field("", max_length=20)
    address: str = Field("", max_length=ADDRESS_MAX)
    active: bool = False

    def details(self) -> CompanyDetails:
        return CompanyDetails(
            name=self.name,
            credit_code=self.credit_code,
            contact_name=self.contact_name,
            contact_phone=self.contact_phone,
            address=self.address,
        )


@console_bp.get("/companies")
@require(*BUREAU)
def companies() -> ResponseReturnValue:
    return _companies_page(NO_REFUSAL)


def _companies_page(refused: Refusal, **_: Any) -> str:
    return render_template("console/companies.html", rows=list_companies(get_session()), refused=refused)


@console_bp.post("/companies")
@require(*BUREAU)
@redisplay_when_refused(_companies_page)
def companies_post() -> ResponseReturnValue:
    form = parse(CompanyForm)
    db = get_session()
    company = create_company(db, current_actor(), form.details(), ip=client_ip(), now=now())
    db.commit()
    flash(f"已新建物业公司 {company.name}", "ok")
    return redirect(url_for("console.company_page", company_id=company.id))


@console_bp.get(f"/companies/<int(max={MAX_ROW_ID}):company_id>")
@require(*BUREAU)
def company_page(company_id: int) -> ResponseReturnValue:
    return _company_page(NO_REFUSAL, company_id)


def _company_page(refused: Refusal, company_id: int, **_: Any) -> str:
    db = get_session()
    return render_template(
        "console/companies_detail.html",
        overview=company_overview(db, company_id),
        estates=estate_choices(db),
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        today=now().astimezone(SHANGHAI).date().isoformat(),
        refused=refused,
    )


@console_bp.post(f"/companies/<int(max={MAX_ROW_ID}):company_id>")
@require(*BUREAU)
@redisplay_when_refused(_company_page)
def company_post(company_id: int) -> ResponseReturnValue:
    form = parse(CompanyForm)
    db = get_session()
    company = get_company(db, company_id)
    update_company(
        db, company, current_actor(), form.details(), active=form.active, ip=client_ip(), now=now()
    )
    db.commit()
    flash(f"已保存 {company.name}", "ok")
    return redirect(url_for("console.company_page", company_id=company_id))


class AssignForm(Form):
    estate: RowId
    since: dt.date | None = None


@console_bp.post(f"/companies/<int(max={MAX_ROW_ID}):company_id>/estates")
@require(*BUREAU)
@redisplay_when_refused(_company_page)
def company_assign(company_id: int) -> ResponseReturnValue:
    form = parse(AssignForm)
    db = get_session()
    company = get_company(db, company_id)
    estate = get_estate(db, form.estate)
    assign_estate(db, estate, company, current_actor(), since=form.since, ip=client_ip(), now=now())
    db.commit()
    flash(f"{estate.name} 已交由 {company.name} 管理", "ok")
    return redirect(url_for("console.company_page", company_id=company_id))


@console_bp.get(f"/estates/<int(max={MAX_ROW_ID}):estate_id>/companies")
@require(*BUREAU)
def estate_companies(estate_id: int) -> ResponseReturnValue:
    return _estate_page(NO_REFUSAL, estate_id)


def _estate_page(refused: Refusal, estate_id: int, **_: Any) -> str:
    estate, spells = estate_history(get_session(), estate_id)
    return render_template("console/companies_estate.html", estate=estate, spells=spells, refused=refused)


class EndForm(Form):
    last_day: dt.date | None = None


@console_bp.post(f"/estates/<int(max={MAX_ROW_ID}):estate_id>/end")
@require(*BUREAU)
@redisplay_when_refused(_estate_page)
def estate_end(estate_id: int) -> ResponseReturnValue:
    form = parse(EndForm)
    db = get_session()
    estate = get_estate(db, estate_id)
    spell = end_management(db, estate, current_actor(), last_day=form.last_day, ip=client_ip(), now=now())
    db.commit()
    flash(f"{estate.name} 的物业管理已于 {spell.ended_on} 结束", "ok")
    return redirect(url_for("console.estate_companies", estate_id=estate_id))
