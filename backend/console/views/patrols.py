"""Patrols (巡查记录) in the console: a company files its patrols and findings and follows what became of them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import AfterValidator, Field, ValidationError

from backend.cases.services.filing import DESCRIPTION_MAX, DESCRIPTION_MIN, MAX_PHOTOS
from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.forms import Form, id_arg, parse
from backend.console.refusal import CHECK_THE_FIELDS, NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.errors import FieldError, ValidationFailed, field_errors
from backend.property.models import FindingAction
from backend.property.patrols import (
    COMMON_AREA_MAX,
    COMMON_AREAS,
    FINDING_ACTION_LABELS,
    FINDING_CATEGORIES,
    MAX_PATROL_AGE,
    FindingActionCode,
    FindingCategory,
    FindingInput,
    PatrolInput,
    estates_for_patrol,
    file_patrol,
    finding_photo,
    get_patrol,
    list_patrols,
    patrol_filters,
    patrol_of_finding,
    rectify_finding,
    renovations_for_patrol,
    report_finding,
    view_patrol,
)
from backend.taxonomy.services import list_categories
from backend.text import Description
from backend.uploads.services import open_upload
from backend.workcalendar import SHANGHAI

READERS = (Role.PROPERTY_STAFF, *BUREAU)  # the bureau reads every company's patrols, and acts on none
ROW = f"int(max={MAX_ROW_ID})"
FORM_FINDINGS, MAX_FORM_FINDINGS = 3, 10  # blocks on the form at first, and at most (blank ones are skipped)
_AREA_SEPARATORS = re.compile(r"[,，、;；\s]+")


def _in_shanghai(value: dt.datetime | None) -> dt.datetime | None:
    # a datetime-local input has no zone: it is the time on the wall in Shanghai
    return value.replace(tzinfo=SHANGHAI) if value is not None and value.tzinfo is None else value


class PatrolForm(Form):
    estate_id: RowId
    patrolled_at: Annotated[dt.datetime | None, AfterValidator(_in_shanghai)] = None
    areas: list[Annotated[str, Field(max_length=32)]] = Field([], max_length=len(COMMON_AREAS))
    other_areas: str = Field("", max_length=200)
    note: str = Field("", max_length=500)

    def all_areas(self) -> list[str]:
        return self.areas + [a for a in _AREA_SEPARATORS.split(self.other_areas) if a]


class FindingForm(Form):
    category: FindingCategory
    action: FindingActionCode
    description: Description = Field(min_length=DESCRIPTION_MIN, max_length=DESCRIPTION_MAX)
    building: str = Field("", max_length=32)
    unit: str = Field("", max_length=32)
    room: str = Field("", max_length=32)
    common_area: str = Field("", max_length=COMMON_AREA_MAX)
    renovation_id: RowId | None = None

    def to_input(self, photos: list[bytes]) -> FindingInput:
        return FindingInput(
            category=self.category,
            description=self.description,
            action=FindingAction(self.action),
            building=self.building,
            unit=self.unit,
            room=self.room,
            common_area=self.common_area,
            photo_files=photos,
            renovation_id=self.renovation_id,
        )


# ------------------------------------------------------------------------------------------- the list


@console_bp.get("/patrols")
@require(*READERS)
def patrols() -> ResponseReturnValue:
    db = get_session()
    actor = current_actor()
    page_no = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    company_id, estate_id = id_arg("company"), id_arg("estate")
    page = list_patrols(db, actor, company_id=company_id, estate_id=estate_id, page=page_no, per_page=30)
    estates, companies = patrol_filters(db, actor)
    return render_template(
        "console/patrols.html",
        page=page,
        estates=estates,
        companies=companies,
        filters={"company": company_id, "estate": estate_id},
        may_file=actor.role is Role.PROPERTY_STAFF,
    )


# --------------------------------------------------------------------------------------- filing one


@console_bp.get("/patrols/new")
@require(Role.PROPERTY_STAFF)
def patrol_new() -> ResponseReturnValue:
    return _new_page(NO_REFUSAL)


def _new_page(refused: Refusal, **_: Any) -> str:
    db = get_session()
    actor = current_actor()
    names = {c.code: c.name for c in list_categories(db)}
    wanted = (
        refused.values.get("finding_count", type=int) if refused else request.args.get("findings", type=int)
    )
    count = min(max(wanted or FORM_FINDINGS, 1), MAX_FORM_FINDINGS)
    return render_template(
        "console/patrol_new.html",
        refused=refused,
        count=count,
        max_count=MAX_FORM_FINDINGS,
        estates=estates_for_patrol(db, actor),
        renovations=renovations_for_patrol(db, actor),
        categories=[(code, names.get(code, code)) for code in FINDING_CATEGORIES],
        actions={a.value: label for a, label in FINDING_ACTION_LABELS.items()},
        common_areas=COMMON_AREAS,
        max_photos=MAX_PHOTOS,
        max_age_days=MAX_PATROL_AGE.days,
        default_time=now().astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        photos_dropped=bool(refused) and any(f.filename for _, f in request.files.items(multi=True)),
    )


@console_bp.post("/patrols")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_new_page)
def patrol_file() -> ResponseReturnValue:
    data, blocks = _posted_patrol()
    db = get_session()
    try:
        patrol, _created = file_patrol(
            db, current_actor(), data, now=now(), storage=current_app.extensions["storage"]
        )
    except ValidationFailed as exc:
        raise _on_the_form(exc, blocks) from None
    db.commit()
    reported = [f for f in patrol.findings if f.case_id is not None]
    flash("已提交巡查记录" + (f"，{len(reported)} 条发现已上报城管" if reported else ""), "ok")
    return redirect(url_for("console.patrol_page", patrol_id=patrol.id))


def _posted_patrol() -> tuple[PatrolInput, list[int]]:
    """The posted form as the service's input, and which block of the form each finding came from (blank
    blocks are skipped). Every field's reason at once, each beside its field."""
    errors: list[FieldError] = []
    try:
        form: PatrolForm | None = parse(PatrolForm)
    except ValidationFailed as exc:
        form, errors = None, list(exc.errors or [])
    if form is not None and not form.all_areas():  # said now, with the findings' reasons, not after them
        errors.append(FieldError(field="areas", message="请填写巡查区域"))
    count = min(max(request.form.get("finding_count", 0, type=int), 0), MAX_FORM_FINDINGS)
    findings, blocks = [], []
    for i in range(count):
        prefix = f"findings.{i}."
        fields = {k.removeprefix(prefix): v for k, v in request.form.items() if k.startswith(prefix) and v}
        files = [f for f in request.files.getlist(prefix + "photos") if f and f.filename]
        if not fields and not files:
            continue
        try:
            finding = FindingForm.model_validate(fields)
        except ValidationError as exc:
            errors += [FieldError(field=prefix + e.field, message=e.message) for e in field_errors(exc)]
            continue
        if len(files) > MAX_PHOTOS:
            errors.append(FieldError(field=prefix + "photos", message=f"每条发现最多 {MAX_PHOTOS} 张照片"))
            continue
        findings.append(finding.to_input([f.stream.read() for f in files]))
        blocks.append(i)
    if errors or form is None:
        raise ValidationFailed(CHECK_THE_FIELDS, errors=errors, description="form")
    data = PatrolInput(
        estate_id=form.estate_id,
        areas=form.all_areas(),
        findings=findings,
        patrolled_at=form.patrolled_at,
        note=form.note,
    )
    return data, blocks


def _on_the_form(exc: ValidationFailed, blocks: list[int]) -> ValidationFailed:
    """The service's reason about its i-th finding, put beside the block of the form it came from."""

    def placed(field: str) -> str:
        match = re.fullmatch(r"findings\.(\d+)\.(\w+)", field)
        if match is None or int(match.group(1)) >= len(blocks):
            return field
        return f"findings.{blocks[int(match.group(1))]}.{match.group(2)}"

    errors = [FieldError(field=placed(e.field), message=e.message) for e in exc.errors or []]
    return ValidationFailed(exc.message, errors=errors, description=exc.description)


# --------------------------------------------------------------------------------- one, and its findings


@console_bp.get(f"/patrols/<{ROW}:patrol_id>")
@require(*READERS)
def patrol_page(patrol_id: int) -> ResponseReturnValue:
    return _patrol_page(NO_REFUSAL, patrol_id=patrol_id)


def _patrol_page(
    refused: Refusal, patrol_id: int | None = None, finding_id: int | None = None, **_: Any
) -> str:
    db = get_session()
    actor = current_actor()
    if patrol_id is not None:
        patrol = get_patrol(db, actor, patrol_id)
    else:
        assert finding_id is not None
        patrol = patrol_of_finding(db, actor, finding_id)
    return render_template(
        "console/patrol.html",
        view=view_patrol(db, actor, patrol, now()),
        refused=refused,
        is_bureau=actor.role is not Role.PROPERTY_STAFF,
    )


@console_bp.post(f"/patrols/findings/<{ROW}:finding_id>/rectify")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_patrol_page)
def finding_rectify(finding_id: int) -> ResponseReturnValue:
    db = get_session()
    finding = rectify_finding(db, current_actor(), finding_id, now=now())
    db.commit()
    flash("已标记为已整改", "ok")
    return redirect(url_for("console.patrol_page", patrol_id=finding.patrol_id))


@console_bp.post(f"/patrols/findings/<{ROW}:finding_id>/report")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_patrol_page)
def finding_report(finding_id: int) -> ResponseReturnValue:
    db = get_session()
    case = report_finding(db, current_actor(), finding_id, now=now())
    db.commit()
    flash(f"已上报城管：工单 {case.tracking_no}", "ok")
    return redirect(
        url_for("console.patrol_page", patrol_id=patrol_of_finding(db, current_actor(), finding_id).id)
    )


@console_bp.get("/patrols/photos/<upload_id>")
@require(*READERS)
def patrol_photo(upload_id: str) -> ResponseReturnValue:
    upload = finding_photo(get_session(), current_actor(), upload_id)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
