"""A negligence case (`property_negligence`) against an estate's company, opened from a verified case whose
duty cross-check found that the company failed its duty."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend.audit.services import record_audit
from backend.cases.models import Case, CaseSource
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.services.timeline import record_event
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, Actor
from backend.errors import Conflict, Forbidden, NotFound
from backend.property.duty import duty_check_of


def open_negligence_case(session: Session, case: Case, actor: Actor, *, now: dt.datetime) -> Case:
    """The squad (or the bureau) opens a `property_negligence` case against the estate's company from a
    verified case whose cross-check found a failure; linked to the original, once."""
    if not (actor.role in BUREAU_ROLES or (actor.role in SQUAD_ROLES and actor.squad_id == case.squad_id)):
        raise Forbidden("这不是本中队的工单")
    check = duty_check_of(session, case)
    if check is None or check.company is None:
        raise NotFound("该工单没有物业履职检查记录", code="no_duty_check")
    if check.negligence_case_id is not None:
        raise Conflict("已就该工单对物业立案", code="negligence_case_exists")
    description = (
        f"履职检查：工单 {case.tracking_no} 经核查属实。{check.summary}"
        f"依据《上海市住宅物业管理规定》第五十九条，对{check.company.name}未履行劝阻、制止、报告义务的情况立案。"
    )
    negligence, _created = submit_report(
        session,
        None,
        ReportInput(
            description=description[:1000],
            category="property_negligence",
            estate_id=case.estate_id,
            address=case.address,
            building=case.building,
            unit=case.unit,
            room=case.room,
            in_progress=False,
            source=CaseSource.INSPECTION,
            source_detail=f"履职检查 {case.tracking_no}"[:128],
        ),
        now=now,
    )
    check.negligence_case_id = negligence.id
    note = f"对{check.company.name}立案追究履职责任：工单 {negligence.tracking_no}"
    record_event(session, case, "negligence_case", None, None, actor, note=note, public=False, now=now)
    record_event(
        session,
        negligence,
        "negligence_of",
        None,
        None,
        actor,
        note=f"源自工单 {case.tracking_no} 的履职检查",
        public=False,
        data={"case": case.tracking_no},
        now=now,
    )
    record_audit(
        session,
        actor,
        "case.negligence_case",
        "case",
        case.tracking_no,
        detail={"negligence_case": negligence.tracking_no, "company_id": check.company_id},
        now=now,
    )
    return negligence
