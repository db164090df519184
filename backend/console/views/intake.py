"""Filing a case from the console: a department's transfer or a squad's inspection finding."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.cases.models import CaseSource
from backend.cases.services.filing import DESCRIPTION_MAX, DESCRIPTION_MIN, ReportInput, staff_intake
from backend.cases.services.life import DEPARTMENTS
from backend.clock import now
from backend.console.blueprint import ALL_STAFF, console_bp, current_actor, require
from backend.console.forms import Form, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import RowId, get_session
from backend.org.services import list_towns
from backend.taxonomy.services import list_categories
from backend.text import Description


class IntakeForm(Form):
    source: str = Field(pattern="^(department_transfer|squad_inspection)$")
    source_detail: str = Field("", max_length=128)
    category: str = Field(min_length=1, max_length=40)
    description: Description = Field(min_length=DESCRIPTION_MIN, max_length=DESCRIPTION_MAX)
    estate_id: RowId | None = None
    address: str = Field("", max_length=255)
    town: str = Field("", max_length=32)
    building: str = Field("", max_length=32)
    unit: str = Field("", max_length=32)
    room: str = Field("", max_length=32)
    in_progress: str = Field("", max_length=3)

    def to_input(self) -> ReportInput:
        """The case as the filing service takes it (the one place this form becomes a ReportInput)."""
        return ReportInput(
            description=self.description,
            category=self.category,
            estate_id=self.estate_id,
            address=self.address,
            town=self.town or None,
            building=self.building,
            unit=self.unit,
            room=self.room,
            in_progress=True if self.in_progress == "on" else None,  # unticked: judged from the description
            source=CaseSource(self.source),
            source_detail=self.source_detail,
        )


@console_bp.get("/intake")
@require(*ALL_STAFF)
def intake() -> ResponseReturnValue:
    return _intake_page(NO_REFUSAL)


def _intake_page(refused: Refusal, **_: Any) -> str:
    db = get_session()
    return render_template(
        "console/intake.html",
        categories=[c for c in list_categories(db) if c.group_code],
        towns=list_towns(db),
        departments=DEPARTMENTS,
        refused=refused,
    )


@console_bp.post("/intake")
@require(*ALL_STAFF)
@redisplay_when_refused(_intake_page)
def intake_post() -> ResponseReturnValue:
    form = parse(IntakeForm)
    db = get_session()
    case = staff_intake(db, current_actor(), form.to_input(), now=now())
    db.commit()
    flash(f"已录入工单 {case.tracking_no}", "ok")
    return redirect(url_for("console.case_page", number=case.tracking_no))
