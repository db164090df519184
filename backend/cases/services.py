"""Rules of cases: filing a report, routing it, numbering it, moving it through its life, and who sees what."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.models import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseSource,
    CaseStatus,
    CaseSupporter,
    PhotoKind,
    Priority,
    TrackingCounter,
)
from backend.cases.workflow import (
    BUREAU_ROLES,
    OPEN,
    SQUAD_ROLES,
    STATUS_LABELS,
    SYSTEM,
    TIMED,
    TRANSITIONS,
    Actor,
    Role,
    check_transition,
)
from backend.db import upsert, utcnow
from backend.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from backend.messages.services import case_status_fields, tell_residents
from backend.org.models import Estate, Squad, Town
from backend.org.services import Page, find_town, paginate
from backend.staff.models import StaffUser
from backend.taxonomy.models import Category, CategoryKeyword
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI, add_working_days
from bot.rules import construction_in_progress

DEFAULT_SIGN_DAYS = 1
DEFAULT_ONSITE_HOURS = 24
DEFAULT_ONSITE_HOURS_IN_PROGRESS = 2
DEFAULT_HANDLE_DAYS = 15
MAX_PHOTOS = 9
HANDLING_ACTIONS = {
    "order_rectification": "责令整改",
    "file_case": "立案",
    "penalty": "处罚",
    "demolition": "拆除",
}
DEPARTMENTS = {
    "housing": "住建",
    "planning": "规资",
    "greening": "绿容",
    "housing_admin": "房管",
    "police": "公安",
    "market": "市场监管",
}
RETURN_REASONS = {"not_our_area": "不属本辖区", "not_our_duty": "不属城管职责", "incomplete": "信息不全"}


@dataclass(frozen=True)
class ReportInput:
    """A report as validated at the boundary; the services decide everything else."""

    description: str
    category: str | None = None
    estate_id: int | None = None
    address: str = ""
    town: str | None = None
    building: str = ""
    unit: str = ""
    room: str = ""
    lat: float | None = None
    lng: float | None = None
    photo_ids: list[str] = field(default_factory=list)
    anonymous: bool = False
    contact_phone: str | None = None
    client_request_id: str | None = None
    in_progress: bool | None = None  # None: not said, judged from the description
    source: CaseSource = CaseSource.MINI_PROGRAM
    external_ref: str | None = None  # e.g. the 12345 order number
    source_detail: str = ""  # e.g. the department a transfer came from
    reporter_name: str = ""  # a caller's name from the hotline; staff only


# ---------------------------------------------------------------------------------------------- filing


def submit_report(
    session: Session,
    reporter: User | None,
    data: ReportInput,
    *,
    daily_limit: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Case, bool]:
    """File a report: returns the case and whether it is new. The same `client_request_id` from the same
    reporter returns the first case. The case is routed, numbered, timed and, with a squad, dispatched."""
    now = now or utcnow()
    if reporter is not None and data.client_request_id:
        existing = _by_client_request(session, reporter.id, data.client_request_id)
        if existing is not None:
            return existing, False
    if (
        reporter is not None
        and daily_limit is not None
        and reports_today(session, reporter.id, now) >= daily_limit
    ):
        raise RateLimited(f"每人每天最多提交 {daily_limit} 条反映，请明天再试", code="daily_report_limit")

    category, confirmed = _choose_category(session, data)
    estate, town = _locate(session, data)
    photos = _reporter_photos(session, reporter, data.photo_ids)
    squad = town.squad if town is not None else None
    said_in_progress = data.in_progress
    in_progress = (
        said_in_progress
        if said_in_progress is not None
        else construction_in_progress(data.description) is True
    )
    case = Case(
        tracking_no="",
        source=data.source,
        status=CaseStatus.SUBMITTED,
        category=category,
        category_confirmed=confirmed,
        description=data.description,
        in_progress=in_progress,
        priority=_priority(estate, _counts_as_in_progress(category, in_progress)),
        estate=estate,
        town=town,
        squad=squad,
        address=data.address or (estate.address if estate else ""),
        building=data.building,
        unit=data.unit,
        room=data.room,
        lat=data.lat,
        lng=data.lng,
        reporter=reporter,
        anonymous=data.anonymous,
        contact_phone=data.contact_phone,
        client_request_id=data.client_request_id if reporter is not None else None,
        external_ref=data.external_ref,
        source_detail=data.source_detail,
        reporter_name=data.reporter_name,
        created_at=now,
    )
    _set_deadlines(case, now)
    case.photos = [CasePhoto(upload_id=p.id, kind="report", position=i) for i, p in enumerate(photos)]
    try:
        with session.begin_nested():
            case.tracking_no = issue_tracking_no(session, now)
            session.add(case)
            session.flush()
    except IntegrityError:
        # the same client_request_id raced in from another request: answer with the case that won
        if reporter is not None and data.client_request_id:
            # a locking read sees the row the other transaction committed, past our snapshot
            existing = _by_client_request(session, reporter.id, data.client_request_id, latest=True)
            if existing is not None:
                return existing, False
        raise
    actor = Actor(Role.RESIDENT, reporter.id, "居民") if reporter is not None else SYSTEM
    facts = {
        "in_progress": in_progress,
        "in_progress_from": "report" if said_in_progress is not None else "text",
    }
    _record(session, case, "submit", None, CaseStatus.SUBMITTED, actor, data=facts, now=now)
    if squad is not None:
        transition(session, case, "dispatch", SYSTEM, note=f"按小区所属街镇派至{squad.name}", now=now)
    return case, True


def _by_client_request(
    session: Session, reporter_id: int, client_request_id: str, *, latest: bool = False
) -> Case | None:
    query = select(Case).where(Case.reporter_id == reporter_id, Case.client_request_id == client_request_id)
    if latest:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalar(query)


def reports_today(session: Session, reporter_id: int, now: dt.datetime) -> int:
    local = now.astimezone(SHANGHAI)
    start = dt.datetime.combine(local.date(), dt.time(), SHANGHAI)
    return (
        session.scalar(
            select(func.count(Case.id)).where(Case.reporter_id == reporter_id, Case.created_at >= start)
        )
        or 0
    )


def _choose_category(session: Session, data: ReportInput) -> tuple[Category | None, bool]:
    if data.category:
        category = session.get(Category, data.category)
        if category is None:
            raise ValidationFailed.on("category", "没有这个问题类别")
        if category.group_code is None:
            raise ValidationFailed.on("category", "该问题不属于本次专项行动，请拨打 12345 市民服务热线")
        return category, True
    return suggest_category(session, data.description), False


def suggest_category(session: Session, text: str) -> Category | None:
    """The category whose keywords cover most of `text` (longer keywords weigh more); None if none match.
    A stand-in until the bot's classifier replaces it."""
    scores: dict[str, int] = {}
    for code, keyword in session.execute(select(CategoryKeyword.category_code, CategoryKeyword.keyword)):
        if keyword and keyword in text:
            scores[code] = scores.get(code, 0) + len(keyword)
    scores.pop("out_of_scope", None)
    if not scores:
        return None
    categories = {c.code: c for c in session.scalars(select(Category).where(Category.code.in_(scores)))}
    best = max(scores, key=lambda code: (scores[code], -categories[code].position))
    return categories[best]


def _locate(session: Session, data: ReportInput) -> tuple[Estate | None, Town | None]:
    if data.estate_id is not None:
        estate = session.get(Estate, data.estate_id)
        if estate is None:
            raise ValidationFailed.on("estate_id", "没有这个小区")
        return estate, estate.town
    if not data.address:
        raise ValidationFailed.on("address", "请选择小区或填写地址")
    if data.town:
        town = find_town(session, data.town)
        if town is None:
            raise ValidationFailed.on("town", "没有这个街镇")
        return None, town
    return None, None  # no town known: the bureau's triage queue


def _reporter_photos(session: Session, reporter: User | None, photo_ids: list[str]) -> list[Upload]:
    if len(photo_ids) > MAX_PHOTOS:
        raise ValidationFailed.on("photos", f"最多 {MAX_PHOTOS} 张照片")
    if len(set(photo_ids)) != len(photo_ids):
        raise ValidationFailed.on("photos", "照片重复")
    if not photo_ids:
        return []
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(photo_ids)))}
    for photo_id in photo_ids:
        upload = uploads.get(photo_id)
        if upload is None or reporter is None or upload.owner_id != reporter.id:
            raise ValidationFailed.on("photos", "照片不存在或已过期，请重新上传")
    return [uploads[p] for p in photo_ids]


def _priority(estate: Estate | None, in_progress: bool) -> int:
    if in_progress:
        return Priority.URGENT
    if estate is not None and estate.is_key:
        return Priority.HIGH
    return Priority.NORMAL


def _counts_as_in_progress(category: Category | None, in_progress: bool) -> bool:
    """Whether the report is of construction going on now: said (or read) so, about a category where work
    can be in progress (one with an in-progress on-site limit), or about a category not known yet."""
    return in_progress and (category is None or category.onsite_hours_in_progress is not None)


def _set_deadlines(case: Case, now: dt.datetime) -> None:
    """On site within the regulation's clock hours from the report (上海市拆除违法建筑若干规定 第七条: 24
    hours, 2 for construction in progress: a weekend does not pause a builder); signing and handling in
    working days."""
    category = case.category
    onsite = (category.onsite_hours if category else None) or DEFAULT_ONSITE_HOURS
    if _counts_as_in_progress(category, case.in_progress):
        onsite = (category.onsite_hours_in_progress if category else None) or DEFAULT_ONSITE_HOURS_IN_PROGRESS
    sign_days, handle_days = _sign_days(category), _handle_days(category)
    case.onsite_due_at = now + dt.timedelta(hours=onsite)
    case.sign_due_at = add_working_days(now, sign_days)
    case.handle_due_at = add_working_days(now, sign_days + handle_days)
    refresh_due_at(case)


def _sign_days(category: Category | None) -> int:
    return (category.sign_working_days if category else None) or DEFAULT_SIGN_DAYS


def _handle_days(category: Category | None) -> int:
    return (category.handle_working_days if category else None) or DEFAULT_HANDLE_DAYS


# The deadline of each state's stage: signing before the squad signs, handling once signed; a case in any
# other state is done and has none. Being on site is a clock of its own (see onsite_pending).
STAGE_DEADLINE = {
    CaseStatus.SUBMITTED: "sign_due_at",
    CaseStatus.DISPATCHED: "sign_due_at",
    CaseStatus.RETURNED: "sign_due_at",
    CaseStatus.SIGNED: "handle_due_at",
    CaseStatus.INVESTIGATING: "handle_due_at",
    CaseStatus.VERIFIED: "handle_due_at",
    CaseStatus.HANDLING: "handle_due_at",
    CaseStatus.TRANSFERRED: "handle_due_at",
}
# The states in which nobody may have been on site yet. The on-site clock counts from the report, so it runs
# whoever holds the case: waiting for dispatch, returned to the bureau, dispatched, signed or investigating
# until the first on-site step. A transferred, merged or withdrawn case is no longer the squad's to visit.
ONSITE_STATES = frozenset(
    {
        CaseStatus.SUBMITTED,
        CaseStatus.DISPATCHED,
        CaseStatus.SIGNED,
        CaseStatus.INVESTIGATING,
        CaseStatus.RETURNED,
    }
)


def onsite_pending(case: Case) -> bool:
    """Whether the on-site clock of 第七条 still runs: nobody has been on site and the case is still open."""
    return (
        case.onsite_due_at is not None and case.onsite_at is None and CaseStatus(case.status) in ONSITE_STATES
    )


def refresh_due_at(case: Case) -> None:
    """Point `due_at` at the current stage's deadline (STAGE_DEADLINE), and `next_due_at` at the earliest
    deadline still running: that one, or the on-site clock's while it runs."""
    deadline = STAGE_DEADLINE.get(CaseStatus(case.status))
    case.due_at = getattr(case, deadline) if deadline else None
    running = [case.due_at, case.onsite_due_at if onsite_pending(case) else None]
    case.next_due_at = min((d for d in running if d is not None), default=None)


def _is_onsite_step(name: str, note: str) -> bool:
    """A step that can only be taken on site: a finding (属实 / 不属实), or starting the investigation
    with a field note."""
    return name in {"verify", "mark_unfounded"} or (name == "investigate" and bool(note.strip()))


def issue_tracking_no(session: Session, now: dt.datetime) -> str:
    """The next tracking number of the day, QPyyyymmdd-nnnn. The counter row's lock (taken by the upsert)
    serialises concurrent submissions until they commit, so no two cases share a number."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    upsert(session, TrackingCounter, {"day": day, "last": 1}, {"last": TrackingCounter.last + 1})
    number = session.scalar(select(TrackingCounter.last).where(TrackingCounter.day == day))
    return f"QP{day}-{number:04d}"


# ------------------------------------------------------------------------------------------- transitions


REQUIRED_MESSAGES = {  # what a refused transition says when a field it requires is empty
    "reason": "请填写原因",
    "action": "请选择处置措施",
    "public_reply": "请填写给反映人的公开答复",
    "department": "请选择转办部门",
    "parent": "请填写要并入的工单号",
}


def transition(
    session: Session,
    case: Case,
    name: str,
    actor: Actor,
    *,
    note: str = "",
    public: bool | None = None,
    now: dt.datetime | None = None,
    **data: Any,
) -> CaseEvent:
    """Make transition `name` on `case` as `actor`: check it, change the status, write the event, tell
    the reporter. Transition-specific effects live in the small functions below."""
    now = now or utcnow()
    lock_case(session, case)
    current = CaseStatus(case.status)
    rule = check_transition(name, current, actor, reporter_id=case.reporter_id, squad_id=case.squad_id)
    for key in rule.requires:
        if not data.get(key) and not (key == "reason" and note):
            raise ValidationFailed.on(key, REQUIRED_MESSAGES.get(key, "请填写必填项"))
    target = _EFFECTS.get(name, _no_effect)(session, case, actor, now, data) or rule.target
    assert target is not None
    if case.onsite_at is None and _is_onsite_step(name, note):
        case.onsite_at = now
    case.status = target
    refresh_due_at(case)
    event = _record(
        session,
        case,
        name,
        current,
        target,
        actor,
        note=note or str(data.get("reason", "")),
        public=rule.public if public is None else public,
        data={k: v for k, v in data.items() if isinstance(v, str | int | float | bool | None)},
        now=now,
    )
    record_audit(session, actor, f"case.{name}", "case", case.tracking_no, detail=event.data, now=now)
    if rule.notify and event.public:
        _tell_followers(session, case, event, now)
    return event


def lock_case(session: Session, case: Case) -> None:
    """Lock the case's row and read it afresh, so concurrent decisions about it queue up and each sees
    the status the one before it left (two officers pressing 签收 at once sign it once)."""
    # the row must be fetched for populate_existing to refresh `case`; executing alone only locks
    session.execute(
        select(Case).where(Case.id == case.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def _record(
    session: Session,
    case: Case,
    action: str,
    from_status: CaseStatus | None,
    to_status: CaseStatus | None,
    actor: Actor,
    *,
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
    now: dt.datetime,
) -> CaseEvent:
    event = CaseEvent(
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        public=public,
        note=note,
        data=data or {},
        created_at=now,
    )
    case.events.append(event)
    case.updated_at = now
    session.flush()
    return event


def add_note(
    session: Session, case: Case, actor: Actor, text: str, *, now: dt.datetime | None = None
) -> CaseEvent:
    """An internal note: on the timeline for staff, never shown to the reporter. A note from the field
    while the case is being investigated is the first on-site step, which stops the on-site clock."""
    _require_staff_scope(case, actor)
    now = now or utcnow()
    onsite = False
    if case.onsite_at is None and CaseStatus(case.status) is CaseStatus.INVESTIGATING:
        lock_case(session, case)
        if case.onsite_at is None and CaseStatus(case.status) is CaseStatus.INVESTIGATING:
            case.onsite_at, onsite = now, True
            refresh_due_at(case)
    data = {"onsite": True} if onsite else None
    event = _record(session, case, "note", None, None, actor, note=text, public=False, data=data, now=now)
    record_audit(session, actor, "case.note", "case", case.tracking_no, detail=data, now=now)
    return event


def _no_effect(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    return None


def _on_dispatch(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    squad = data.get("squad")
    if isinstance(squad, Squad):
        case.squad = squad
        case.town = squad.town
        data["squad"] = squad.name
    if case.squad is None:
        raise ValidationFailed.on("squad", "请选择派往的中队")
    if CaseStatus(case.status) is CaseStatus.RETURNED:
        # a re-dispatched case gets a fresh signing deadline, not the one that ran out at the first squad
        case.sign_due_at = add_working_days(now, _sign_days(case.category))


def _on_sign(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    case.signed_at = now
    case.handle_due_at = add_working_days(now, _handle_days(case.category))


def _on_resolve(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    case.public_reply = str(data["public_reply"])
    case.resolved_at = now


def _on_rate(
    session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]
) -> CaseStatus:
    case.rating = str(data["score"])
    case.rating_comment = str(data.get("comment") or "")
    if case.rating == "unsatisfied" and case.reopen_count == 0:
        case.reopen_count += 1
        case.resolved_at = None
        case.handle_due_at = add_working_days(now, _handle_days(case.category))
        return CaseStatus.HANDLING
    case.closed_at = now
    return CaseStatus.CLOSED


def _on_close(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    case.closed_at = now


def _on_handle(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    action = data.get("action")
    if action not in HANDLING_ACTIONS:
        raise ValidationFailed.on("action", "请选择处置措施")
    if action == "order_rectification":
        if not data.get("deadline"):
            raise ValidationFailed.on("deadline", "责令整改需填写整改期限")
        try:
            deadline = dt.date.fromisoformat(str(data["deadline"]))
        except ValueError:
            raise ValidationFailed.on("deadline", "整改期限应为日期，如 2026-12-31") from None
        if deadline < now.astimezone(SHANGHAI).date():
            raise ValidationFailed.on("deadline", "整改期限不能早于今天")
        data["deadline"] = deadline.isoformat()
    if action == "penalty":
        if not data.get("decision_no"):
            raise ValidationFailed.on("decision_no", "处罚需填写决定书文号")
        try:
            amount = float(data.get("amount") or 0)
        except (TypeError, ValueError):
            amount = 0
        if not math.isfinite(amount) or amount <= 0:  # "nan" and "inf" parse, and JSON cannot store them
            raise ValidationFailed.on("amount", "处罚需填写罚款金额")
        data["amount"] = amount
    data["action_label"] = HANDLING_ACTIONS[action]


def _on_transfer(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    department = data.get("department")
    if department not in DEPARTMENTS:
        raise ValidationFailed.on("department", "请选择转办部门")
    case.transferred_to = department
    data["department_label"] = DEPARTMENTS[department]


def _on_return(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    if data.get("reason_code") and data["reason_code"] not in RETURN_REASONS:
        raise ValidationFailed.on("reason_code", "请选择退单原因")
    case.signed_at = None
    case.assignee_id = None


def _on_merge(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    parent = data.get("parent")
    if not isinstance(parent, Case) or parent.id == case.id:
        raise ValidationFailed.on("parent", "请填写要并入的工单号")
    if not can_see_case(parent, actor):  # a squad merges only into its own cases; say no more than "unknown"
        raise ValidationFailed.on("parent", "没有这个工单号")
    if CaseStatus(parent.status) not in OPEN or parent.parent_id is not None:
        raise ValidationFailed.on("parent", "只能并入未办结的工单")
    case.parent = parent
    data["parent"] = parent.tracking_no
    followers = _followers(session, parent)
    if followers:
        tell_residents(
            session,
            followers,
            case_id=parent.id,
            title=f"工单 {parent.tracking_no} 有新进展",
            body="另一条反映同一问题的工单已并入本工单，将一并办理",
            now=now,
        )


_EFFECTS = {
    "dispatch": _on_dispatch,
    "handle": _on_handle,
    "transfer": _on_transfer,
    "merge": _on_merge,
    "sign": _on_sign,
    "resolve": _on_resolve,
    "record_transfer_reply": _on_resolve,
    "rate": _on_rate,
    "close": _on_close,
    "return": _on_return,
}


def _followers(session: Session, case: Case) -> list[int]:
    """The reporter, everyone who pressed 我也遇到, and the reporters of cases merged into this one."""
    followers = [case.reporter_id] if case.reporter_id else []
    followers += session.scalars(select(CaseSupporter.user_id).where(CaseSupporter.case_id == case.id)).all()
    followers += [
        uid
        for uid in session.scalars(select(Case.reporter_id).where(Case.parent_id == case.id))
        if uid is not None
    ]
    return list(dict.fromkeys(followers))


def _tell_followers(session: Session, case: Case, event: CaseEvent, now: dt.datetime) -> None:
    followers = _followers(session, case)
    if not followers:
        return
    status = STATUS_LABELS[CaseStatus(case.status)]
    body = public_text(case, event)
    tell_residents(
        session,
        followers,
        case_id=case.id,
        title=f"工单 {case.tracking_no} {status}",
        body=body,
        subscribe=case_status_fields(
            category=case.category.name if case.category else "待确认",
            tracking_no=case.tracking_no,
            status=status,
            remark=body,
            at=now,
        ),
        page=f"pages/report/detail?tracking_no={case.tracking_no}",
        now=now,
    )


RATING_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


def public_text(case: Case, event: CaseEvent, *, for_reporter: bool = True) -> str:
    """What a follower reads about an event: the public label, with the public reply on resolution. The
    reporter's own steps read as theirs ("您已撤回") to the reporter only; a supporter reads them as the
    reporter's, without the reporter's words."""
    rule = TRANSITIONS.get(event.action)
    label = rule.label if rule else event.action
    if event.action == "dispatch" and case.squad is not None:
        return f"已派至{case.squad.name}处理"
    if event.action in {"resolve", "record_transfer_reply"}:
        return f"{label}：{case.public_reply}"
    if event.action == "merge":
        return f"与工单 {event.data.get('parent', '')} 反映的是同一问题，合并办理"
    if event.action == "transfer":
        return f"{label}（{event.data.get('department_label', '')}）"
    if event.action == "handle":
        return f"{label}：{event.data.get('action_label', '')}"
    if event.action == "extension_approved":
        return "办理期限已按规定延长"
    reopened = "，已退回重新处置" if event.to_status == CaseStatus.HANDLING else ""
    if event.action == "rate":
        if not for_reporter:
            return f"反映人已评价{reopened}"
        return f"您评价：{RATING_LABELS.get(str(event.data.get('score', '')), '')}{reopened}"
    if event.action == "withdraw" and not for_reporter:
        return "反映人已撤回，本工单不再办理"
    return label


# ------------------------------------------------------------------------------------ reporter's side


def get_case(session: Session, tracking_no: str) -> Case:
    case = session.scalar(
        select(Case)
        .where(Case.tracking_no == tracking_no)
        .options(selectinload(Case.events), selectinload(Case.photos).selectinload(CasePhoto.upload))
    )
    if case is None:
        raise NotFound("没有找到这条反映", code="case_not_found")
    return case


def get_case_for_resident(session: Session, tracking_no: str, user: User) -> Case:
    """A case its reporter, or a resident who supports it, may read; NotFound for anyone else, so that
    nobody can learn whether a number exists."""
    if not re.fullmatch(r"QP\d{8}-\d{4,6}", tracking_no):
        raise NotFound("没有找到这条反映", code="case_not_found")
    case = get_case(session, tracking_no)
    if case.reporter_id == user.id:
        return case
    supporter = session.scalar(
        select(CaseSupporter.id).where(CaseSupporter.case_id == case.id, CaseSupporter.user_id == user.id)
    )
    if supporter is None:
        raise NotFound("没有找到这条反映", code="case_not_found")
    return case


def list_resident_cases(session: Session, user: User, *, page: int, per_page: int) -> Page[Case]:
    query = (
        select(Case)
        .where(Case.reporter_id == user.id)
        .options(selectinload(Case.category), selectinload(Case.estate), selectinload(Case.squad))
        .order_by(Case.id.desc())
    )
    return paginate(session, query, page, per_page)


def public_events(case: Case) -> list[CaseEvent]:
    return [e for e in case.events if e.public]


def photos_for_resident(case: Case, user: User) -> list[CasePhoto]:
    """The photos of a case a resident may see: their own uploads sent with a report, and those the squad
    published with its public reply. Nothing from an internal note, a merge, a transfer or another
    resident: any other kind of photo is staff-only."""
    return [
        p
        for p in case.photos
        if p.kind == PhotoKind.RESOLUTION or (p.kind == PhotoKind.REPORT and p.upload.owner_id == user.id)
    ]


def withdraw_case(
    session: Session, case: Case, user: User, reason: str = "", *, now: dt.datetime | None = None
) -> CaseEvent:
    """The reporter withdraws their report. Whoever else follows it (我也遇到, or a report merged into it) is
    told that it will not be handled, and how to have it handled; never the reporter's reason."""
    now = now or utcnow()
    event = transition(session, case, "withdraw", Actor(Role.RESIDENT, user.id, "居民"), note=reason, now=now)
    others = [uid for uid in _followers(session, case) if uid != user.id]
    if others:
        tell_residents(
            session,
            others,
            case_id=case.id,
            title=f"工单 {case.tracking_no} 已撤回",
            body="您关注的这条反映已由反映人撤回，不再办理。如问题仍然存在，您可以重新反映。",
            subscribe=case_status_fields(
                category=case.category.name if case.category else "待确认",
                tracking_no=case.tracking_no,
                status=STATUS_LABELS[CaseStatus.WITHDRAWN],
                remark="反映人已撤回，如问题仍存在可重新反映",
                at=now,
            ),
            page=f"pages/report/detail?tracking_no={case.tracking_no}",
            now=now,
        )
    return event


def rate_case(
    session: Session, case: Case, user: User, score: str, comment: str = "", *, now: dt.datetime | None = None
) -> CaseEvent:
    return transition(
        session, case, "rate", Actor(Role.RESIDENT, user.id, "居民"), score=score, comment=comment, now=now
    )


def find_similar(
    session: Session,
    *,
    estate_id: int,
    category: str | None,
    building: str = "",
    squad_id: int | None = None,
    limit: int = 10,
) -> list[Case]:
    """Open cases about the same estate (and category, and squad), same building first, newest next."""
    query = select(Case).where(
        Case.estate_id == estate_id,
        Case.status.in_([s.value for s in OPEN]),
        Case.parent_id.is_(None),
    )
    if squad_id is not None:
        query = query.where(Case.squad_id == squad_id)
    if category:
        query = query.where(Case.category_code == category)
    ordering = [Case.building != building, Case.id.desc()] if building else [Case.id.desc()]
    return list(session.scalars(query.options(selectinload(Case.category)).order_by(*ordering).limit(limit)))


_NOT_SUPPORTABLE = {
    CaseStatus.WITHDRAWN: "这条反映已由反映人撤回，无法再附议；如问题仍然存在，请重新反映",
    CaseStatus.MERGED: "这条反映已与同一问题的工单合并办理，请关注合并后的工单",
    CaseStatus.UNFOUNDED: "这条反映经核查不属实，无法再附议；如问题仍然存在，请重新反映",
}


def support_case(session: Session, case: Case, user: User, *, now: dt.datetime | None = None) -> bool:
    """我也遇到: the user follows an open case instead of filing a duplicate. Returns False if already done."""
    status = CaseStatus(case.status)
    if status not in OPEN:
        raise ValidationFailed.on("tracking_no", _NOT_SUPPORTABLE.get(status, "这条反映已办结，无法再附议"))
    if case.reporter_id == user.id:
        return False
    exists = session.scalar(
        select(CaseSupporter.id).where(CaseSupporter.case_id == case.id, CaseSupporter.user_id == user.id)
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(CaseSupporter(case_id=case.id, user_id=user.id, created_at=now or utcnow()))
    except IntegrityError:
        return False
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(supporter_count=Case.supporter_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(case, ["supporter_count"])
    return True


def open_case_for_triage(session: Session) -> list[Case]:
    """The bureau's triage queue: no squad yet, a category nobody confirmed, or returned by the squad (退单)
    and waiting to be re-dispatched."""
    return list(
        session.scalars(
            select(Case)
            .where(Case.status.in_([s.value for s in OPEN]))
            .where(
                or_(
                    Case.squad_id.is_(None),
                    Case.category_confirmed.is_(False),
                    Case.status == CaseStatus.RETURNED,
                )
            )
            .options(selectinload(Case.category), selectinload(Case.estate))
            .order_by(Case.priority.desc(), Case.created_at)
        )
    )


# ------------------------------------------------------------------------------------------ staff's side


def assign_case(
    session: Session, case: Case, actor: Actor, assignee: StaffUser, *, now: dt.datetime | None = None
) -> None:
    """A squad leader gives a case of the squad to one of its officers."""
    if actor.role is not Role.SQUAD_LEADER or actor.squad_id != case.squad_id:
        raise Forbidden("只有本中队中队长可以分派工单")
    if assignee.squad_id != case.squad_id or not assignee.active:
        raise ValidationFailed.on("assignee", "只能分派给本中队的队员")
    if CaseStatus(case.status) not in OPEN:
        raise Conflict("已办结的工单不能再分派", code="case_closed")
    case.assignee = assignee
    now = now or utcnow()
    _record(
        session,
        case,
        "assign",
        None,
        None,
        actor,
        note=f"分派给{assignee.display_name}",
        public=False,
        now=now,
    )
    record_audit(
        session, actor, "case.assign", "case", case.tracking_no, detail={"assignee": assignee.id}, now=now
    )


def confirm_category(
    session: Session, case: Case, actor: Actor, code: str, *, now: dt.datetime | None = None
) -> None:
    """The squad (or the bureau) confirms or corrects the category a report was filed or suggested under."""
    _require_staff_scope(case, actor)
    category = session.get(Category, code)
    if category is None or category.group_code is None:
        raise ValidationFailed.on("category", "请选择问题类别")
    before = case.category_code
    case.category = category
    case.category_confirmed = True
    now = now or utcnow()
    _record(
        session,
        case,
        "confirm_category",
        None,
        None,
        actor,
        note=category.name,
        public=False,
        data={"from": before, "to": code},
        now=now,
    )
    record_audit(
        session,
        actor,
        "case.confirm_category",
        "case",
        case.tracking_no,
        detail={"from": before, "to": code},
        now=now,
    )


def reveal_reporter_phone(
    session: Session, case: Case, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> str | None:
    """The reporter's phone for an officer who pressed 显示; logged. None for an anonymous report."""
    _require_staff_scope(case, actor)
    if actor.role not in {Role.OFFICER, Role.SQUAD_LEADER, Role.SUPERVISOR, Role.ADMIN}:
        raise Forbidden()
    if case.anonymous:
        return None
    record_audit(session, actor, "case.reveal_phone", "case", case.tracking_no, ip=ip, now=now)
    return case.contact_phone


def record_case_view(
    session: Session, case: Case, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> None:
    """A staff member opened a case page (it shows the report and, masked, the reporter's contact)."""
    record_audit(session, actor, "case.view", "case", case.tracking_no, ip=ip, now=now)


def _require_staff_scope(case: Case, actor: Actor) -> None:
    if actor.role in BUREAU_ROLES:
        return
    if actor.role in SQUAD_ROLES and actor.squad_id is not None and actor.squad_id == case.squad_id:
        return
    raise Forbidden("这不是本中队的工单")


def can_see_case(case: Case, actor: Actor) -> bool:
    try:
        _require_staff_scope(case, actor)
    except Forbidden:
        return False
    return True


def staff_intake(
    session: Session, actor: Actor, data: ReportInput, *, now: dt.datetime | None = None
) -> Case:
    """A case entered in the console: a transfer from another department (the bureau, or a squad for its own
    town) or a squad's own inspection finding."""
    if data.source not in {CaseSource.TRANSFER, CaseSource.INSPECTION}:
        raise ValidationFailed.on("source", "请选择案件来源")
    if actor.role not in SQUAD_ROLES | BUREAU_ROLES:
        raise Forbidden()
    if data.source is CaseSource.TRANSFER and not data.source_detail:
        raise ValidationFailed.on("source_detail", "请填写移送部门")
    case, _created = submit_report(session, None, data, now=now)
    if actor.role in SQUAD_ROLES and case.squad_id != actor.squad_id:
        raise Forbidden("只能录入本中队辖区的案件")
    record_audit(
        session, actor, "case.intake", "case", case.tracking_no, detail={"source": data.source.value}, now=now
    )
    return case


INBOX_TABS = {
    "to_sign": "待签收",
    "mine": "我的",
    "in_progress": "办理中",
    "due_today": "今日到期",
    "overdue": "已超期",
    "all": "全部",
}
_IN_PROGRESS = [s.value for s in TIMED - {CaseStatus.DISPATCHED}]  # signed, not yet closed


@dataclass(frozen=True)
class InboxFilter:
    tab: str = "to_sign"
    category: str | None = None
    estate_id: int | None = None
    source: str | None = None
    key_only: bool = False


def list_inbox(
    session: Session,
    actor: Actor,
    filters: InboxFilter,
    *,
    now: dt.datetime,
    squad_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Case]:
    """A squad's (or, for the bureau, any squad's or the whole district's) cases, the soonest running
    deadline first (the stage's or the on-site clock's, whichever comes first)."""
    query = select(Case)
    if actor.role in SQUAD_ROLES:
        query = query.where(Case.squad_id == actor.squad_id)
    elif actor.role in BUREAU_ROLES:
        if squad_id is not None:
            query = query.where(Case.squad_id == squad_id)
    else:
        raise Forbidden()
    open_states = [s.value for s in OPEN]
    timed_states = [s.value for s in TIMED]
    tab = filters.tab if filters.tab in INBOX_TABS else "to_sign"
    if tab == "to_sign":
        query = query.where(Case.status == CaseStatus.DISPATCHED)
    elif tab == "mine":
        query = query.where(Case.assignee_id == actor.id, Case.status.in_(open_states))
    elif tab == "in_progress":
        query = query.where(Case.status.in_(_IN_PROGRESS))
    elif tab == "due_today":
        local = now.astimezone(SHANGHAI)
        end_of_day = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), SHANGHAI)
        query = query.where(Case.status.in_(timed_states), Case.next_due_at < end_of_day)
    elif tab == "overdue":
        query = query.where(Case.status.in_(timed_states), Case.next_due_at <= now)
    if filters.category:
        query = query.where(Case.category_code == filters.category)
    if filters.estate_id:
        query = query.where(Case.estate_id == filters.estate_id)
    if filters.source:
        query = query.where(Case.source == filters.source)
    if filters.key_only:
        query = query.join(Estate, Estate.id == Case.estate_id).where(Estate.is_key.is_(True))
    query = query.options(
        selectinload(Case.category), selectinload(Case.estate), selectinload(Case.squad)
    ).order_by(Case.next_due_at.is_(None), Case.next_due_at, Case.priority.desc(), Case.id)
    return paginate(session, query, page, per_page)


def merged_children(session: Session, case: Case) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.parent_id == case.id).order_by(Case.id)))
