"""The duty cross-check in the console: the cases a company's findings became, its compliance record, the
bureau's ranking of companies, and a squad opening a negligence case from a verified case."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from backend.cases.workflow import BUREAU_ROLES, STATUS_LABELS, Role
from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.case_render import case_page_again
from backend.console.refusal import redisplay_when_refused
from backend.console.scope import case_in_scope
from backend.db import MAX_ROW_ID, get_session
from backend.errors import NotFound
from backend.org.models import PropertyCompany
from backend.property.duty import SCORE_RULE, cases_of_company, compliance_of, compliance_ranking
from backend.property.negligence import open_negligence_case


@console_bp.get("/duty")
@require(Role.PROPERTY_STAFF, *BUREAU)
def duty() -> ResponseReturnValue:
    """A company's own record and the cases its findings became; for the bureau, every company ranked."""
    actor = current_actor()
    db = get_session()
    if actor.role in BUREAU_ROLES:
        return render_template("console/duty_ranking.html", records=compliance_ranking(db), rule=SCORE_RULE)
    company = db.get(PropertyCompany, actor.company_id) if actor.company_id else None
    if company is None:
        abort(404)
    return render_template(
        "console/duty_company.html",
        record=compliance_of(db, company),
        cases=cases_of_company(db, actor),
        labels=STATUS_LABELS,
        rule=SCORE_RULE,
    )


@console_bp.get(f"/duty/<int(max={MAX_ROW_ID}):company_id>")
@require(*BUREAU)
def duty_of_company(company_id: int) -> ResponseReturnValue:
    db = get_session()
    company = db.get(PropertyCompany, company_id)
    if company is None:
        raise NotFound("没有这家物业服务企业", code="company_not_found")
    return render_template(
        "console/duty_company.html",
        record=compliance_of(db, company),
        cases=None,
        labels=STATUS_LABELS,
        rule=SCORE_RULE,
    )


@console_bp.post("/cases/<number>/negligence")
@require(Role.OFFICER, Role.SQUAD_LEADER, *BUREAU)
@redisplay_when_refused(case_page_again)
def negligence_case(number: str) -> ResponseReturnValue:
    db = get_session()
    case = case_in_scope(number)
    opened = open_negligence_case(db, case, current_actor(), now=now())
    db.commit()
    flash(f"已对物业立案：工单 {opened.tracking_no}", "ok")
    return redirect(url_for("console.case_page", number=opened.tracking_no))
