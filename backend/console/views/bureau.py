"""The bureau's oversight: the triage desk, overdue cases, extension decisions, urging and supervising."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.cases import supervision
from backend.cases.models import Case, CaseExtension
from backend.cases.services.reads import open_case_for_triage
from backend.cases.workflow import SQUAD_ROLES, STATUS_LABELS
from backend.clock import now
from backend.console.blueprint import ALL_STAFF, BUREAU, console_bp, current_actor, require
from backend.console.case_render import case_page_again
from backend.console.forms import Form, id_arg, parse
from backend.console.refusal import redisplay_when_refused
from backend.console.scope import case_in_scope
from backend.db import MAX_ROW_ID, get_session


@console_bp.get("/triage")
@require(*BUREAU)
def triage() -> ResponseReturnValue:
    db = get_session()
    return render_template(
        "console/list.html",
        title="分拨台（无街镇、类别待确认或被退单）",
        cases=open_case_for_triage(db),
        now=now(),
        labels=STATUS_LABELS,
    )


@console_bp.get("/overdue")
@require(*ALL_STAFF)
def overdue() -> ResponseReturnValue:
    """Overdue cases: the bureau's, of every squad or one; a squad sees only its own."""
    actor = current_actor()
    db = get_session()
    squad_id = actor.squad_id if actor.role in SQUAD_ROLES else id_arg("squad")
    return render_template(
        "console/list.html",
        title="超期工单",
        cases=supervision.overdue_cases(db, now(), squad_id=squad_id),
        now=now(),
        labels=STATUS_LABELS,
    )


class DecisionForm(Form):
    approve: str = Field(pattern="^(yes|no)$")
    note: str = Field("", max_length=500)


@console_bp.post(f"/extensions/<int(max={MAX_ROW_ID}):extension_id>/decide")
@require(*BUREAU)
def extension_decide(extension_id: int) -> ResponseReturnValue:
    form = parse(DecisionForm)
    db = get_session()
    extension = db.get(CaseExtension, extension_id)
    if extension is None:
        abort(404)
    supervision.decide_extension(db, extension, current_actor(), form.approve == "yes", now(), note=form.note)
    db.commit()
    case = db.get_one(Case, extension.case_id)
    flash("已批准延期" if form.approve == "yes" else "已驳回延期", "ok")
    return redirect(url_for("console.case_page", number=case.tracking_no))


class SuperviseForm(Form):
    note: str = Field("", max_length=500)


@console_bp.post("/cases/<number>/urge", defaults={"kind": "urge"})
@console_bp.post("/cases/<number>/supervise", defaults={"kind": "supervise"})
@require(*BUREAU)
@redisplay_when_refused(case_page_again)
def case_supervision(number: str, kind: str) -> ResponseReturnValue:
    form = parse(SuperviseForm)
    db = get_session()
    act = supervision.urge_case if kind == "urge" else supervision.supervise_case
    act(db, case_in_scope(number), current_actor(), form.note, now())
    db.commit()
    flash("已催办" if kind == "urge" else "已列入督办", "ok")
    return redirect(url_for("console.case_page", number=number))
