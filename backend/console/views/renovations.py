"""Renovation registrations (装修申报登记) in the console: a company files, checks and follows its own; the
printable renovation notice (装修告知书). The bureau reads every company's, without the owners' identity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.cases.workflow import Role
from backend.clock import now
from backend.config import get_config
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import Form, id_arg, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.errors import ValidationFailed
from backend.property.models import RenovationStatus
from backend.property.renovations import (
    STATUS_LABELS,
    VERDICT_LABELS,
    Checklist,
    PermitInput,
    RenovationFilter,
    RenovationInput,
    Verdict,
    attach_permit,
    complete_renovation,
    estates_for_registration,
    filter_choices,
    get_renovation,
    list_renovations,
    load_checklist,
    permit_scan_of,
    register_renovation,
    renovation_notice,
    start_renovation,
    view_for,
)
from backend.text import PHONE_PATTERN
from backend.uploads.services import open_upload, store_upload

READERS = (Role.PROPERTY_STAFF, Role.SUPERVISOR, Role.ADMIN)
RENOVATION = f"/renovations/<int(max={MAX_ROW_ID}):renovation_id>"

# what the page says after a registration is decided
DECIDED = {
    RenovationStatus.ACCEPTED: "已登记，可打印装修告知书",
    RenovationStatus.WAITING_PERMIT: "已申报，待补审批文件：附上全部审批文件后予以登记",
    RenovationStatus.REFUSED: "不予登记：申报中有禁止的项目，理由见下",
}


# the checklist on the form: the everyday work first, the forbidden acts last
FORM_ORDER = (Verdict.ALLOWED, Verdict.PERMIT, Verdict.FORBIDDEN)


def _checklist() -> Checklist:
    return load_checklist(get_config().content_dir)


class RenovationForm(Form):
    estate_id: RowId
    building: str = Field(min_length=1, max_length=32)
    unit: str = Field("", max_length=32)
    room: str = Field(min_length=1, max_length=32)
    owner_name: str = Field(min_length=1, max_length=64)
    owner_phone: str = Field(pattern=PHONE_PATTERN)
    contractor: str = Field(min_length=1, max_length=128)
    contractor_phone: str = Field(pattern=PHONE_PATTERN)
    planned_start: dt.date
    planned_end: dt.date
    items: list[str] = Field(default_factory=list, max_length=60)
    note: str = Field("", max_length=1000)

    def to_input(self) -> RenovationInput:
        """The registration as the service takes it (the one place this form becomes a RenovationInput)."""
        return RenovationInput(
            estate_id=self.estate_id,
            building=self.building,
            unit=self.unit,
            room=self.room,
            owner_name=self.owner_name,
            owner_phone=self.owner_phone,
            contractor=self.contractor,
            contractor_phone=self.contractor_phone,
            planned_start=self.planned_start,
            planned_end=self.planned_end,
            items=self.items,
            note=self.note,
        )


@console_bp.get("/renovations")
@require(*READERS)
def renovations() -> ResponseReturnValue:
    actor = current_actor()
    args = request.args
    status = args.get("status", "")
    filters = RenovationFilter(
        estate_id=id_arg("estate"),
        status=status if status in STATUS_LABELS else None,
        building=args.get("building", "")[:32],
        unit=args.get("unit", "")[:32],
        room=args.get("room", "")[:32],
        company_id=id_arg("company"),
    )
    db = get_session()
    page = list_renovations(db, actor, filters, page=args.get("page", 1, type=int), per_page=30)
    estates, companies = filter_choices(db, actor)
    return render_template(
        "console/renovations.html",
        page=page,
        views=[view_for(actor, r) for r in page.items],
        filters=filters,
        estates=estates,
        companies=companies,
        status_labels=STATUS_LABELS,
        may_register=actor.role is Role.PROPERTY_STAFF,
    )


@console_bp.get("/renovations/new")
@require(Role.PROPERTY_STAFF)
def renovation_new() -> ResponseReturnValue:
    return _form_page(NO_REFUSAL)


def _form_page(refused: Refusal, **_: Any) -> str:
    """The registration form; `?from=<id>` fills it from an earlier registration of the company (one refused
    for a forbidden item is filed again without it)."""
    db = get_session()
    actor = current_actor()
    earlier = id_arg("from")
    filled: dict[str, Any] = {}
    if earlier is not None and not refused:
        view = view_for(actor, get_renovation(db, actor, earlier))
        filled = {
            "estate_id": str(view.estate_id),
            "building": view.building,
            "unit": view.unit,
            "room": view.room,
            "owner_name": view.owner_name or "",
            "owner_phone": view.owner_phone or "",
            "contractor": view.contractor,
            "contractor_phone": view.contractor_phone or "",
            "items": [i.code for i in view.items if i.verdict != Verdict.FORBIDDEN],
        }
    checklist = _checklist()
    return render_template(
        "console/renovation_form.html",
        estates=estates_for_registration(db, actor),
        groups=[(VERDICT_LABELS[v], v.value, checklist.of(v)) for v in FORM_ORDER],
        filled=filled,
        refused=refused,
    )


@console_bp.post("/renovations")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_form_page)
def renovation_create() -> ResponseReturnValue:
    form = parse(RenovationForm)
    db = get_session()
    renovation, _created = register_renovation(db, current_actor(), form.to_input(), _checklist(), now=now())
    db.commit()
    status = RenovationStatus(renovation.status)
    flash(DECIDED[status], "error" if status is RenovationStatus.REFUSED else "ok")
    return redirect(url_for("console.renovation", renovation_id=renovation.id))


@console_bp.get(RENOVATION)
@require(*READERS)
def renovation(renovation_id: int) -> ResponseReturnValue:
    return _detail_page(NO_REFUSAL, renovation_id)


def _detail_page(refused: Refusal, renovation_id: int, **_: Any) -> str:
    actor = current_actor()
    view = view_for(actor, get_renovation(get_session(), actor, renovation_id))
    return render_template(
        "console/renovation.html",
        view=view,
        status_labels=STATUS_LABELS,
        refused=refused,
        Verdict=Verdict,
    )


class PermitForm(Form):
    number: str = Field(min_length=1, max_length=64)
    authority: str = Field(min_length=1, max_length=64)


@console_bp.post(RENOVATION + "/permits/<item>")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_detail_page)
def renovation_permit(renovation_id: int, item: str) -> ResponseReturnValue:
    form = parse(PermitForm)
    upload_id = _stored_scan()
    db = get_session()
    permit = PermitInput(item=item, number=form.number, authority=form.authority, upload_id=upload_id)
    renovation = attach_permit(db, current_actor(), renovation_id, permit, uploader_id=None, now=now())
    db.commit()
    done = RenovationStatus(renovation.status) is RenovationStatus.ACCEPTED
    flash("已附上审批文件，审批齐全，予以登记" if done else "已附上审批文件", "ok")
    return redirect(url_for("console.renovation", renovation_id=renovation_id))


def _stored_scan() -> str | None:
    """The photo or scan of a permit chosen in the form, cleaned and stored (no owner: the console's)."""
    file = request.files.get("scan")
    if file is None or not file.filename:
        return None
    try:
        upload = store_upload(get_session(), current_app.extensions["storage"], None, file.stream.read())
    except ValidationFailed as exc:  # said beside the form's file field
        raise ValidationFailed.on("scan", exc.message) from None
    return upload.id


class StepForm(Form):
    note: str = Field("", max_length=500)


@console_bp.post(RENOVATION + "/start")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_detail_page)
def renovation_start(renovation_id: int) -> ResponseReturnValue:
    form = parse(StepForm)
    db = get_session()
    start_renovation(db, current_actor(), renovation_id, note=form.note, now=now())
    db.commit()
    flash("已记录开工", "ok")
    return redirect(url_for("console.renovation", renovation_id=renovation_id))


@console_bp.post(RENOVATION + "/complete")
@require(Role.PROPERTY_STAFF)
@redisplay_when_refused(_detail_page)
def renovation_complete(renovation_id: int) -> ResponseReturnValue:
    form = parse(StepForm)
    db = get_session()
    complete_renovation(db, current_actor(), renovation_id, note=form.note, now=now())
    db.commit()
    flash("已记录完工", "ok")
    return redirect(url_for("console.renovation", renovation_id=renovation_id))


@console_bp.get(RENOVATION + "/notice")
@require(Role.PROPERTY_STAFF)
def renovation_notice_page(renovation_id: int) -> ResponseReturnValue:
    db = get_session()
    notice = renovation_notice(db, current_actor(), renovation_id, _checklist(), now=now())
    db.commit()
    return render_template("console/renovation_notice.html", notice=notice, Verdict=Verdict)


@console_bp.get(RENOVATION + "/scans/<upload_id>")
@require(Role.PROPERTY_STAFF)
def renovation_scan(renovation_id: int, upload_id: str) -> ResponseReturnValue:
    upload = permit_scan_of(get_session(), current_actor(), renovation_id, upload_id)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
