"""Console pages and actions: parse the form, call one service, commit, redirect or render."""

from __future__ import annotations

from typing import Any, get_origin

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from backend.audit.services import ACTION_LABELS, list_audit, record_audit
from backend.cases import supervision
from backend.cases.models import SOURCE_LABELS, Case, CaseExtension, CasePhoto, CaseSource, CaseStatus
from backend.cases.services.access import can_see_case
from backend.cases.services.deadlines import onsite_pending
from backend.cases.services.filing import MAX_PHOTOS, ReportInput, staff_intake
from backend.cases.services.life import (
    DEPARTMENTS,
    HANDLING_ACTIONS,
    RETURN_REASONS,
    add_note,
    assign_case,
    confirm_category,
    transition,
)
from backend.cases.services.reads import (
    INBOX_TABS,
    InboxFilter,
    find_similar,
    get_case,
    list_inbox,
    merged_children,
    open_case_for_triage,
    record_case_view,
    reveal_reporter_phone,
)
from backend.cases.workflow import (
    BUREAU_ROLES,
    SQUAD_ROLES,
    STATUS_LABELS,
    TRANSITIONS,
    Actor,
    Role,
    allowed_transitions,
)
from backend.clock import now
from backend.console import limiter
from backend.console.blueprint import console_bp, current_actor, current_staff, require
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.errors import Forbidden, NotFound, PlainText, Unauthorized, ValidationFailed, field_errors
from backend.org.models import Estate, PropertyCompany, Squad
from backend.org.services import list_squads, list_towns
from backend.staff.models import StaffUser
from backend.staff.services import (
    MIN_PASSWORD,
    ROLE_LABELS,
    STAFF_ROLES,
    authenticate_staff,
    change_own_password,
    create_staff,
    disable_staff,
    enable_staff,
    end_staff_sessions,
    get_staff,
    list_notices,
    list_staff,
    log_out_staff,
    mark_notices_read,
    mask_phone,
    reset_staff_password,
    squad_members,
)
from backend.taxonomy.services import list_categories
from backend.text import Password
from backend.uploads.models import Upload
from backend.uploads.services import open_upload, store_upload

ALL_STAFF = (Role.OFFICER, Role.SQUAD_LEADER, Role.SUPERVISOR, Role.ADMIN)
BUREAU = tuple(BUREAU_ROLES)

# Reply templates per state, for the public reply and the notes (the squad edits before sending).
REPLY_TEMPLATES = {
    "resolve": [
        "经现场核查，反映的违法搭建已拆除，现场已恢复原状。感谢您的监督。",
        "经现场核查，已责令当事人限期整改，我队将跟踪复查。感谢您的监督。",
        "经现场核查，未发现反映的问题。如仍有发现，欢迎再次反映。",
    ],
    "mark_unfounded": ["经现场核查，未发现反映的违法行为。"],
}


class Form(PlainText):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def parse(model: type[Form]) -> Any:
    data: dict[str, Any] = {}
    for key in request.form:
        values = [v for v in request.form.getlist(key) if v != ""]
        if not values:
            continue  # an empty input is an absent one: the field's default applies
        field = model.model_fields.get(key)
        is_list = field is not None and get_origin(field.annotation) is list
        data[key] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(
            "；".join(f"{e.field}：{e.message}" for e in errors), errors=errors, description="form"
        ) from None


def _id_arg(name: str) -> int | None:
    """An id from the query string; one that names no row (not a number, 0, 2**70) is no filter."""
    value = request.args.get(name, type=int)
    return value if value is not None and 1 <= value <= MAX_ROW_ID else None


def client_ip() -> str:
    """The client's address; behind proxies, ProxyFix (PROXY_COUNT) has already put the real one here."""
    return (request.remote_addr or "")[:45]


# ----------------------------------------------------------------------------------------- login


class LoginForm(Form):
    username: str = Field(min_length=1, max_length=64)
    password: Password = Field(min_length=1, max_length=256)


@console_bp.get("/login")
def login() -> Any:
    return render_template("console/login.html")


def _login_failed(response: Any) -> bool:
    """Only a refused login counts against the address's limit: an office of officers behind one address
    logging in every morning must not lock itself out, while guessing passwords is still throttled."""
    return response.status_code >= 400


@console_bp.post("/login")
@limiter.limit(lambda: current_app.config["QINGPU"].CONSOLE_LOGIN_RATE, deduct_when=_login_failed)
def login_post() -> Any:
    try:
        form = parse(LoginForm)
    except ValidationFailed:
        return render_template("console/login.html", error="请输入用户名和密码"), 400
    db = get_session()
    try:
        staff = authenticate_staff(db, form.username, form.password, ip=client_ip(), now=now())
    except Unauthorized as exc:  # every refusal looks the same from outside
        db.commit()  # keep the failed-attempt count and the audit entry
        return render_template("console/login.html", error=exc.message), 401
    db.commit()
    session.clear()
    session["staff_id"], session["staff_sv"] = staff.id, staff.session_version
    return redirect(_next_page(request.args.get("next", "")))


def _next_page(target: str) -> str:
    """Where to go after logging in: a console page the login page was sent from, else the inbox."""
    if target.startswith("/console/") and target.isprintable() and "\\" not in target:
        return target
    return url_for("console.inbox")


@console_bp.post("/logout")
def logout() -> Any:
    staff = g.get("staff")
    if staff is not None:
        db = get_session()
        log_out_staff(db, staff, ip=client_ip(), now=now())  # every copy of the cookie stops working
        db.commit()
    session.clear()
    return redirect(url_for("console.login"))


class PasswordForm(Form):
    current_password: Password = Field("", max_length=256)
    new_password: Password = Field("", max_length=256)
    confirm_password: Password = Field("", max_length=256)


@console_bp.get("/password")
@require()
def password() -> Any:
    return _password_page(NO_REFUSAL)


def _password_page(refused: Refusal, **_: Any) -> str:
    return render_template("console/password.html", refused=refused, min_password=MIN_PASSWORD)


@console_bp.post("/password")
@require()
@redisplay_when_refused(_password_page)
def password_post() -> Any:
    form = parse(PasswordForm)
    db = get_session()
    try:
        staff = change_own_password(
            db,
            current_staff(),
            form.current_password,
            form.new_password,
            form.confirm_password,
            ip=client_ip(),
            now=now(),
        )
    except ValidationFailed:
        db.commit()  # keep the count of wrong current passwords (it leads to the lockout) and its audit entry
        raise
    db.commit()
    session["staff_sv"] = staff.session_version  # this browser stays in; every other session has ended
    flash("密码已修改，此账号在其他设备上的登录已全部退出", "ok")
    return redirect(url_for("console.password"))


@console_bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Any:
    return render_template("console/error.html", message="页面已过期，请刷新后重试"), 400


# ----------------------------------------------------------------------------------------- inbox


@console_bp.get("/")
@require()
def home() -> Any:
    role = Role(current_staff().role)
    if role in {Role.EDITOR, Role.PROPERTY_STAFF}:
        return render_template("console/error.html", message="此角色的功能尚未开放"), 403
    return redirect(url_for("console.inbox"))


@console_bp.get("/inbox")
@require(*ALL_STAFF)
def inbox() -> Any:
    actor = current_actor()
    args = request.args
    filters = InboxFilter(
        tab=args.get("tab", "to_sign"),
        category=args.get("category") or None,
        estate_id=_id_arg("estate"),
        source=args.get("source") or None,
        key_only=args.get("key") == "1",
    )
    db = get_session()
    page = list_inbox(
        db,
        actor,
        filters,
        now=now(),
        squad_id=_id_arg("squad"),
        page=args.get("page", 1, type=int),
    )
    members = squad_members(db, actor.squad_id) if actor.role is Role.SQUAD_LEADER and actor.squad_id else []
    if actor.role in SQUAD_ROLES:
        estates = list(
            db.scalars(
                select(Estate)
                .join(Squad, Squad.town_id == Estate.town_id)
                .where(Squad.id == actor.squad_id)
                .order_by(Estate.name)
            )
        )
    else:
        estates = estate_choices()
    return render_template(
        "console/inbox.html",
        page=page,
        filters=filters,
        tabs=INBOX_TABS,
        categories=list_categories(db),
        sources=[s.value for s in CaseSource],
        squads=list_squads(db) if actor.role in BUREAU_ROLES else [],
        members=members,
        estates=estates,
        notices=list_notices(db, actor),
        now=now(),
        labels=STATUS_LABELS,
    )


class NoticesForm(Form):
    ids: list[RowId] = Field(min_length=1, max_length=1000)


@console_bp.post("/notices/read")
@require(*ALL_STAFF)
def notices_read() -> Any:
    form = parse(NoticesForm)
    db = get_session()
    mark_notices_read(db, current_actor(), form.ids, now=now())
    db.commit()
    return redirect(url_for("console.inbox"))


class BulkForm(Form):
    action: str = Field(pattern="^(sign|assign)$")
    cases: list[str] = Field(min_length=1, max_length=100)
    assignee: RowId | None = None


@console_bp.post("/inbox/bulk")
@require(Role.OFFICER, Role.SQUAD_LEADER)
def inbox_bulk() -> Any:
    form = parse(BulkForm)
    db = get_session()
    actor = current_actor()
    assignee = get_staff(db, form.assignee) if form.assignee else None
    done = 0
    for number in sorted(
        set(form.cases)
    ):  # one order for every locker of many cases: no deadlock between them
        case = _case_in_scope(number)
        if form.action == "sign":
            transition(db, case, "sign", actor, now=now())
        else:
            if assignee is None:
                raise ValidationFailed.on("assignee", "请选择要分派的队员")
            assign_case(db, case, actor, assignee, now=now())
        done += 1
    db.commit()
    flash(f"已处理 {done} 件工单", "ok")
    return redirect(request.referrer or url_for("console.inbox"))


# ------------------------------------------------------------------------------------------ a case


def _case_in_scope(number: str) -> Case:
    case = get_case(get_session(), number)
    if not can_see_case(case, current_actor()):
        raise Forbidden("这不是本中队的工单")
    return case


def _similar(case: Case, actor: Actor) -> list[Case]:
    """Other open cases about the estate: a squad sees only its own, the bureau all of them."""
    if not case.estate_id:
        return []
    squad_id = actor.squad_id if actor.role in SQUAD_ROLES else None
    found = find_similar(get_session(), estate_id=case.estate_id, category=None, squad_id=squad_id)
    return [c for c in found if c.id != case.id]


@console_bp.get("/cases/<number>")
@require(*ALL_STAFF)
def case_page(number: str) -> Any:
    db = get_session()
    case = _case_in_scope(number)
    record_case_view(db, case, current_actor(), ip=client_ip(), now=now())
    db.commit()
    return _show_case(case, NO_REFUSAL)


def _case_page_again(refused: Refusal, number: str, **_: Any) -> str:
    """The case page once more after one of its forms was refused (not another view of the case to audit)."""
    return _show_case(_case_in_scope(number), refused)


def _show_case(case: Case, refused: Refusal) -> str:
    db = get_session()
    actor = current_actor()
    allowed = allowed_transitions(
        CaseStatus(case.status), actor, reporter_id=case.reporter_id, squad_id=case.squad_id
    )
    refused_action = next(
        (
            name
            for name in TRANSITIONS
            if refused.is_for(url_for("console.case_action", number=case.tracking_no, name=name))
        ),
        None,
    )
    # The case changed meanwhile, or the refused step is no longer open: its form may be gone from the
    # page, so what was typed in it is shown on its own, to copy.
    gone = refused.status == 409 or (refused_action is not None and refused_action not in allowed)
    extensions = list(
        db.scalars(select(CaseExtension).where(CaseExtension.case_id == case.id).order_by(CaseExtension.id))
    )
    return render_template(
        "console/case.html",
        case=case,
        allowed=allowed,
        transitions=TRANSITIONS,
        labels=STATUS_LABELS,
        masked_phone=mask_phone(case.contact_phone) if not case.anonymous else "",
        categories=[c for c in list_categories(db) if c.group_code],
        squads=list_squads(db) if "dispatch" in allowed else [],
        members=squad_members(db, case.squad_id) if case.squad_id and actor.role is Role.SQUAD_LEADER else [],
        similar=_similar(case, actor),
        children=merged_children(db, case),
        extensions=extensions,
        handling_actions=HANDLING_ACTIONS,
        departments=DEPARTMENTS,
        return_reasons=RETURN_REASONS,
        reply_templates=REPLY_TEMPLATES,
        now=now(),
        is_bureau=actor.role in BUREAU_ROLES,
        is_squad=actor.role in SQUAD_ROLES,
        is_leader=actor.role is Role.SQUAD_LEADER,
        refused=refused,
        open_action=refused_action if refused_action in allowed else None,
        unsent=refused.typed_texts() if gone else [],
        event_labels=ACTION_LABELS,
    )


class ActionForm(Form):
    note: str = Field("", max_length=2000)
    reason: str = Field("", max_length=500)
    reason_code: str = Field("", max_length=32)
    public_reply: str = Field("", max_length=2000)
    action: str = Field("", max_length=32)
    deadline: str = Field("", max_length=32)
    amount: str = Field("", max_length=20)
    decision_no: str = Field("", max_length=64)
    case_no: str = Field("", max_length=64)
    department: str = Field("", max_length=32)
    squad: RowId | None = None
    parent: str = Field("", max_length=20)


@console_bp.post("/cases/<number>/do/<name>")
@require(*ALL_STAFF)
@redisplay_when_refused(_case_page_again)
def case_action(number: str, name: str) -> Any:
    if name not in TRANSITIONS or name in {"submit", "withdraw", "rate"}:
        abort(404)
    db = get_session()
    case = _case_in_scope(number)
    form = parse(ActionForm)
    photos = _form_photos() if name == "resolve" else []
    data: dict[str, Any] = {}
    if name == "dispatch":
        data["squad"] = db.get(Squad, form.squad) if form.squad else None
        if form.squad and data["squad"] is None:
            raise ValidationFailed.on("squad", "没有这个中队")
    elif name == "merge":
        try:
            data["parent"] = get_case(db, form.parent)
        except NotFound:
            raise ValidationFailed.on("parent", "没有这个工单号") from None
    elif name == "return":
        data.update(
            reason=form.reason or RETURN_REASONS.get(form.reason_code, ""), reason_code=form.reason_code
        )
    elif name == "handle":
        data.update(
            action=form.action,
            deadline=form.deadline,
            amount=form.amount,
            decision_no=form.decision_no,
            case_no=form.case_no,
        )
    elif name == "transfer":
        data["department"] = form.department
    elif name in {"resolve", "record_transfer_reply"}:
        data["public_reply"] = form.public_reply
    elif name == "mark_unfounded":
        data["reason"] = form.reason
    transition(db, case, name, current_actor(), note=form.note, now=now(), **data)
    _attach_photos(case, "resolution", photos)
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
@redisplay_when_refused(_case_page_again)
def case_note(number: str) -> Any:
    form = parse(NoteForm)
    db = get_session()
    case = _case_in_scope(number)
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
@redisplay_when_refused(_case_page_again)
def case_assign(number: str) -> Any:
    form = parse(AssignForm)
    db = get_session()
    case = _case_in_scope(number)
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
@redisplay_when_refused(_case_page_again)
def case_category(number: str) -> Any:
    form = parse(CategoryForm)
    db = get_session()
    case = _case_in_scope(number)
    confirm_category(db, case, current_actor(), form.category, now=now())
    db.commit()
    flash("已确认问题类别", "ok")
    return redirect(url_for("console.case_page", number=number))


@console_bp.post("/cases/<number>/reveal-phone")
@require(*ALL_STAFF)
def case_reveal_phone(number: str) -> Any:
    db = get_session()
    case = _case_in_scope(number)
    phone = reveal_reporter_phone(db, case, current_actor(), ip=client_ip(), now=now())
    db.commit()
    return render_template("console/phone.html", case=case, phone=phone)


class ExtensionForm(Form):
    working_days: int = Field(ge=1, le=30)
    reason: str = Field(min_length=2, max_length=500)


@console_bp.post("/cases/<number>/extension")
@require(Role.OFFICER, Role.SQUAD_LEADER)
@redisplay_when_refused(_case_page_again)
def case_extension(number: str) -> Any:
    form = parse(ExtensionForm)
    db = get_session()
    case = _case_in_scope(number)
    supervision.request_extension(db, case, current_actor(), form.working_days, form.reason, now())
    db.commit()
    flash("已提交延期申请，等待区局审批", "ok")
    return redirect(url_for("console.case_page", number=number))


class DecisionForm(Form):
    approve: str = Field(pattern="^(yes|no)$")
    note: str = Field("", max_length=500)


@console_bp.post(f"/extensions/<int(max={MAX_ROW_ID}):extension_id>/decide")
@require(*BUREAU)
def extension_decide(extension_id: int) -> Any:
    form = parse(DecisionForm)
    db = get_session()
    extension = db.get(CaseExtension, extension_id)
    if extension is None:
        abort(404)
    supervision.decide_extension(db, extension, current_actor(), form.approve == "yes", now(), note=form.note)
    db.commit()
    case = db.get(Case, extension.case_id)
    flash("已批准延期" if form.approve == "yes" else "已驳回延期", "ok")
    return redirect(url_for("console.case_page", number=case.tracking_no))


class SuperviseForm(Form):
    note: str = Field("", max_length=500)


@console_bp.post("/cases/<number>/urge", defaults={"kind": "urge"})
@console_bp.post("/cases/<number>/supervise", defaults={"kind": "supervise"})
@require(*BUREAU)
@redisplay_when_refused(_case_page_again)
def case_supervision(number: str, kind: str) -> Any:
    form = parse(SuperviseForm)
    db = get_session()
    act = supervision.urge_case if kind == "urge" else supervision.supervise_case
    act(db, _case_in_scope(number), current_actor(), form.note, now())
    db.commit()
    flash("已催办" if kind == "urge" else "已列入督办", "ok")
    return redirect(url_for("console.case_page", number=number))


@console_bp.get("/photos/<upload_id>")
@require(*ALL_STAFF)
def photo(upload_id: str) -> Any:
    db = get_session()
    # one upload may be on several cases (a resident may send the same photo twice): any visible one will do
    cases = db.scalars(
        select(Case).join(CasePhoto, CasePhoto.case_id == Case.id).where(CasePhoto.upload_id == upload_id)
    )
    upload = db.get(Upload, upload_id)
    actor = current_actor()
    if upload is None or not any(can_see_case(case, actor) for case in cases):
        abort(404)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# ------------------------------------------------------------------------------ the bureau's lists


@console_bp.get("/triage")
@require(*BUREAU)
def triage() -> Any:
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
def overdue() -> Any:
    actor = current_actor()
    db = get_session()
    squad_id = actor.squad_id if actor.role in SQUAD_ROLES else _id_arg("squad")
    return render_template(
        "console/list.html",
        title="超期工单",
        cases=supervision.overdue_cases(db, now(), squad_id=squad_id),
        now=now(),
        labels=STATUS_LABELS,
    )


@console_bp.get("/audit")
@require(*BUREAU)
def audit() -> Any:
    db = get_session()
    page = list_audit(
        db,
        target_id=request.args.get("target") or None,
        action=request.args.get("action") or None,
        page=request.args.get("page", 1, type=int),
    )
    return render_template("console/audit.html", page=page, action_labels=ACTION_LABELS)


# ---------------------------------------------------------------------------------------- intake


class IntakeForm(Form):
    source: str = Field(pattern="^(department_transfer|squad_inspection)$")
    source_detail: str = Field("", max_length=128)
    category: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=10, max_length=1000)
    estate_id: RowId | None = None
    address: str = Field("", max_length=255)
    town: str = Field("", max_length=32)
    building: str = Field("", max_length=32)
    unit: str = Field("", max_length=32)
    room: str = Field("", max_length=32)
    in_progress: str = Field("", max_length=3)


@console_bp.get("/intake")
@require(*ALL_STAFF)
def intake() -> Any:
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
def intake_post() -> Any:
    form = parse(IntakeForm)
    db = get_session()
    actor = current_actor()
    town = form.town or None
    if actor.role in SQUAD_ROLES and not form.estate_id:
        town = db.get(Squad, actor.squad_id).town.code
    case = staff_intake(
        db,
        actor,
        ReportInput(
            description=form.description,
            category=form.category,
            estate_id=form.estate_id,
            address=form.address,
            town=town,
            building=form.building,
            unit=form.unit,
            room=form.room,
            in_progress=True if form.in_progress == "on" else None,  # unticked: judged from the description
            source=CaseSource(form.source),
            source_detail=form.source_detail,
        ),
        now=now(),
    )
    db.commit()
    flash(f"已录入工单 {case.tracking_no}", "ok")
    return redirect(url_for("console.case_page", number=case.tracking_no))


# ----------------------------------------------------------------------------------------- users


class UserForm(Form):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=16)
    password: Password = Field(min_length=1, max_length=256)
    squad: RowId | None = None
    company: RowId | None = None


@console_bp.get("/users")
@require(Role.ADMIN)
def users() -> Any:
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
def users_post() -> Any:
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
}


@console_bp.post(f"/users/<int(max={MAX_ROW_ID}):staff_id>/<action>")
@require(Role.ADMIN)
@redisplay_when_refused(_users_page)
def user_action(staff_id: int, action: str) -> Any:
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
def user_password(staff_id: int) -> Any:
    form = parse(ResetPasswordForm)
    db = get_session()
    staff = _account(staff_id)
    reset_staff_password(db, staff, current_actor(), form.password, ip=client_ip(), now=now())
    db.commit()
    flash(f"已重置账号 {staff.username} 的密码，其所有登录已退出", "ok")
    return redirect(url_for("console.users"))


@console_bp.app_template_filter("source")
def source_label(value: str) -> str:
    return SOURCE_LABELS.get(value, value)  # CaseSource is a StrEnum: its plain values find the labels


@console_bp.app_template_global("clocks")
def case_clocks(case: Case) -> dict[str, Any]:
    """The deadlines a case page or inbox row shows: the stage's, and the on-site clock of 第七条 while it
    runs (or when it was met)."""
    return {
        "stage": supervision.stage_label(case),
        "onsite_running": onsite_pending(case),
        "onsite_hours": supervision.onsite_limit_hours(case) if case.onsite_due_at else "",
    }


@console_bp.app_template_filter("local")
def local_time(value: Any) -> str:
    from backend.workcalendar import SHANGHAI

    return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if value else "—"


def estate_choices() -> list[Estate]:
    return list(get_session().scalars(select(Estate).where(Estate.is_key).order_by(Estate.name)))
