"""What staff do to a case from its page: its steps (transitions), notes with photos, assigning, the category,
revealing the reporter's phone, asking for more time."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field
from werkzeug.datastructures import FileStorage

from backend.audit.services import record_audit
from backend.cases import supervision
from backend.cases.models import Case, CasePhoto
from backend.cases.services.filing import MAX_PHOTOS
from backend.cases.services.life import add_note, assign_case, confirm_category, transition
from backend.cases.services.reads import reveal_reporter_phone
from backend.cases.workflow import TRANSITIONS, Role
from backend.clock import now
from backend.console.blueprint import ALL_STAFF, console_bp, current_actor, require
from backend.console.case_render import case_page_again
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import redisplay_when_refused
from backend.console.scope import case_in_scope
from backend.console.transition_forms import STEP_FORMS
from backend.db import RowId, get_session
from backend.errors import ValidationFailed
from backend.staff.services import get_staff
from backend.uploads.services import store_upload


@console_bp.post("/cases/<number>/do/<name>")
@require(*ALL_STAFF)
@redisplay_when_refused(case_page_again)
def case_action(number: str, name: str) -> ResponseReturnValue:
    step = STEP_FORMS.get(name)
    if step is None:
        abort(404)
    db = get_session()
    case = case_in_scope(number)
    form = parse(step)
    photos = _form_photos() if step.photo_kind else []
    data = form.transition_data(db)
    transition(db, case, name, current_actor(), note=form.note, now=now(), **data)
    if step.photo_kind:
        _attach_photos(case, step.photo_kind, photos)
    db.commit()
    flash(f"已完成：{TRANSITIONS[name].verb}", "ok")
    return redirect(url_for("console.case_page", number=case.tracking_no))


def _form_photos() -> list[FileStorage]:
    """The photos chosen in the form, at most MAX_PHOTOS (as many as a resident may send)."""
    files = [file for file in request.files.getlist("photos") if file and file.filename]
    if len(files) > MAX_PHOTOS:
        raise ValidationFailed.on("photos", f"最多 {MAX_PHOTOS} 张照片")
    return files


def _attach_photos(case: Case, kind: str, files: list[FileStorage]) -> None:
    if not files:
        return
    db = get_session()
    storage = current_app.extensions["storage"]
    start = len(case.photos)
    for i, file in enumerate(files):
        try:
            upload = store_upload(db, storage, None, file.stream.read())
        except ValidationFailed as exc:  # said beside the form's photo field, naming the photo
            raise ValidationFailed.on("photos", f"第 {i + 1} 张照片：{exc.message}") from None
        case.photos.append(CasePhoto(upload_id=upload.id, kind=kind, position=start + i))
    detail = {"kind": kind, "count": len(files)}
    record_audit(db, current_actor(), "case.photos", "case", case.tracking_no, detail=detail, now=now())


class NoteForm(Form):
    note: str = Field(min_length=1, max_length=2000)


@console_bp.post("/cases/<number>/note")
@require(*ALL_STAFF)
@redisplay_when_refused(case_page_again)
def case_note(number: str) -> ResponseReturnValue:
    form = parse(NoteForm)
    db = get_session()
    case = case_in_scope(number)
    photos = _form_photos()
    add_note(db, case, current_actor(), form.note, now=now())
    _attach_photos(case, "handling", photos)
    db.commit()
    flash("已添加内部备注", "ok")
    return redirect(url_for("console.case_page", number=number))


class AssignForm(Form):
    assignee: RowId


@console_bp.post("/cases/<number>/assign")
@require(Role.SQUAD_LEADER)
@redisplay_when_refused(case_page_again)
def case_assign(number: str) -> ResponseReturnValue:
    form = parse(AssignForm)
    db = get_session()
    case = case_in_scope(number)
    assignee = get_staff(db, form.assignee)
    if assignee is None:
        raise ValidationFailed.on("assignee", "没有这个队员")
    assign_case(db, case, current_actor(), assignee, now=now())
    db.commit()
    flash(f"已分派给{assignee.display_name}", "ok")
    return redirect(url_for("console.case_page", number=number))


class CategoryForm(Form):
    category: str = Field(min_length=1, max_length=40)


@console_bp.post("/cases/<number>/category")
@require(*ALL_STAFF)
@redisplay_when_refused(case_page_again)
def case_category(number: str) -> ResponseReturnValue:
    form = parse(CategoryForm)
    db = get_session()
    case = case_in_scope(number)
    confirm_category(db, case, current_actor(), form.category, now=now())
    db.commit()
    flash("已确认问题类别", "ok")
    return redirect(url_for("console.case_page", number=number))


@console_bp.post("/cases/<number>/reveal-phone")
@require(*ALL_STAFF)
def case_reveal_phone(number: str) -> ResponseReturnValue:
    db = get_session()
    case = case_in_scope(number)
    phone = reveal_reporter_phone(db, case, current_actor(), ip=client_ip(), now=now())
    db.commit()
    return render_template("console/phone.html", case=case, phone=phone)


class ExtensionForm(Form):
    working_days: int = Field(ge=1, le=30)
    reason: str = Field(min_length=2, max_length=500)


@console_bp.post("/cases/<number>/extension")
@require(Role.OFFICER, Role.SQUAD_LEADER)
@redisplay_when_refused(case_page_again)
def case_extension(number: str) -> ResponseReturnValue:
    form = parse(ExtensionForm)
    db = get_session()
    case = case_in_scope(number)
    supervision.request_extension(db, case, current_actor(), form.working_days, form.reason, now())
    db.commit()
    flash("已提交延期申请，等待区局审批", "ok")
    return redirect(url_for("console.case_page", number=number))
