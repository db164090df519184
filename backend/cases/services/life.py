"""A case's life: the transition machinery (check, effect, event, audit, followers told) and the other steps
staff and residents take on a case (notes, assigning, the category, withdrawing, rating, 我也遇到)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.audit.services import record_audit
from backend.cases.models import Case, CaseEvent, CaseStatus, CaseSupporter
from backend.cases.services.access import can_see_case, require_staff_scope
from backend.cases.services.deadlines import (
    handle_working_days,
    is_onsite_step,
    refresh_due_at,
    sign_working_days,
)
from backend.cases.services.timeline import followers_of, record_event, tell_followers
from backend.cases.workflow import OPEN, STATUS_LABELS, Actor, Role, check_transition
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.messages.services import case_status_fields, tell_residents
from backend.org.models import Squad
from backend.property.duty import DEFAULT_WINDOW_DAYS, check_duty
from backend.staff.models import StaffUser
from backend.taxonomy.models import Category
from backend.workcalendar import SHANGHAI, add_working_days

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
    step = take_step(session, case, name, actor, note=note, public=public, now=now, **data)
    if step.tell:
        tell_followers(session, case, step.event, now)
    return step.event


@dataclass(frozen=True)
class Step:
    """A transition made but not yet told: its event, its audit entry, and whether the followers are to be told."""

    event: CaseEvent
    audit: AuditEntry
    tell: bool


def take_step(
    session: Session,
    case: Case,
    name: str,
    actor: Actor,
    *,
    note: str = "",
    public: bool | None = None,
    now: dt.datetime,
    **data: Any,
) -> Step:
    """`transition` up to telling the followers, which is left to the caller: filing a case dispatches it
    before its row is written, and writes it before anybody is told (a message points at the case)."""
    lock_case(session, case)
    current = CaseStatus(case.status)
    rule = check_transition(name, current, actor, reporter_id=case.reporter_id, squad_id=case.squad_id)
    for key in rule.requires:
        if not data.get(key) and not (key == "reason" and note):
            raise ValidationFailed.on(key, REQUIRED_MESSAGES.get(key, "请填写必填项"))
    target = _EFFECTS.get(name, _no_effect)(session, case, actor, now, data) or rule.target
    assert target is not None
    if case.onsite_at is None and is_onsite_step(name, note):
        case.onsite_at = now
    case.status = target
    refresh_due_at(case)
    event = record_event(
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
    audit = record_audit(session, actor, f"case.{name}", "case", case.tracking_no, detail=event.data, now=now)
    if name in _AFTER:
        _AFTER[name](session, case, now, data)
    return Step(event, audit, rule.notify and event.public)


def lock_case(session: Session, case: Case) -> None:
    """Lock the case's row and read it afresh, so concurrent decisions about it queue up and each sees
    the status the one before it left (two officers pressing 签收 at once sign it once). A case filed in
    this transaction and not written yet has no row: nobody else can see it, let alone change it."""
    state = inspect(case)
    if state.transient or state.pending:
        return
    # the row must be fetched for populate_existing to refresh `case`; executing alone only locks
    session.execute(
        select(Case).where(Case.id == case.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def add_note(
    session: Session, case: Case, actor: Actor, text: str, *, now: dt.datetime | None = None
) -> CaseEvent:
    """An internal note: on the timeline for staff, never shown to the reporter. A note from the field
    while the case is being investigated is the first on-site step, which stops the on-site clock."""
    require_staff_scope(case, actor)
    now = now or utcnow()
    onsite = False
    if case.onsite_at is None and CaseStatus(case.status) is CaseStatus.INVESTIGATING:
        lock_case(session, case)
        if case.onsite_at is None and CaseStatus(case.status) is CaseStatus.INVESTIGATING:
            case.onsite_at, onsite = now, True
            refresh_due_at(case)
    data = {"onsite": True} if onsite else None
    event = record_event(
        session, case, "note", None, None, actor, note=text, public=False, data=data, now=now
    )
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
        case.sign_due_at = add_working_days(now, sign_working_days(case.category))


def _on_sign(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any]) -> None:
    case.signed_at = now
    case.handle_due_at = add_working_days(now, handle_working_days(case.category))


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
        case.handle_due_at = add_working_days(now, handle_working_days(case.category))
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
    followers = followers_of(session, parent)
    if followers:
        tell_residents(
            session,
            followers,
            case_id=parent.id,
            title=f"工单 {parent.tracking_no} 有新进展",
            body="另一条反映同一问题的工单已并入本工单，将一并办理",
            now=now,
        )


def _check_duty_once_verified(session: Session, case: Case, now: dt.datetime, data: dict[str, Any]) -> None:
    # The notice's 同步检查物业服务企业履职情况: every case that proves true is checked, recorded after the step.
    window = data.get("duty_window_days")
    check_duty(session, case, now=now, window_days=window if isinstance(window, int) else DEFAULT_WINDOW_DAYS)


# What follows a step once it is on the timeline.
_AFTER = {"verify": _check_duty_once_verified}

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


def withdraw_case(
    session: Session, case: Case, user: User, reason: str = "", *, now: dt.datetime | None = None
) -> CaseEvent:
    """The reporter withdraws their report. Whoever else follows it (我也遇到, or a report merged into it) is
    told that it will not be handled, and how to have it handled; never the reporter's reason."""
    now = now or utcnow()
    event = transition(session, case, "withdraw", Actor(Role.RESIDENT, user.id, "居民"), note=reason, now=now)
    others = [uid for uid in followers_of(session, case) if uid != user.id]
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
    record_event(
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
    require_staff_scope(case, actor)
    category = session.get(Category, code)
    if category is None or category.group_code is None:
        raise ValidationFailed.on("category", "请选择问题类别")
    before = case.category_code
    case.category = category
    case.category_confirmed = True
    now = now or utcnow()
    record_event(
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
