"""A case's timeline and its followers: recording an event, telling the residents who follow the case, and
what each of them may read of it (the public text of an event, the photos)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CaseEvent, CasePhoto, CaseStatus, CaseSupporter, PhotoKind
from backend.cases.workflow import STATUS_LABELS, TRANSITIONS, Actor
from backend.messages.services import case_status_fields, tell_residents


def record_event(
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
    """Put an event on the case's timeline (public: the reporter may read it) and touch the case.

    The event is written by the session's next flush (the step's own, a query's, or the commit's): nothing
    needs its id sooner, and a step that records several events and audit entries writes them together. It
    joins the timeline from its own side, so a case whose timeline is not loaded is not read for it. An event
    of a case the session does not hold yet (one being filed) joins its timeline only, and is written with
    the case (`backend.cases.services.filing`)."""
    event = CaseEvent(
        case=case,
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
    if not inspect(case).transient:
        session.add(event)
    case.updated_at = now
    return event


def followers_of(session: Session, case: Case) -> list[int]:
    """The reporter, everyone who pressed 我也遇到, and the reporters of cases merged into this one."""
    followers = [case.reporter_id] if case.reporter_id else []
    if case.id is None:
        return followers  # filed in this transaction and not written yet: nobody else can follow it
    followers += session.scalars(select(CaseSupporter.user_id).where(CaseSupporter.case_id == case.id)).all()
    followers += [
        uid
        for uid in session.scalars(select(Case.reporter_id).where(Case.parent_id == case.id))
        if uid is not None
    ]
    return list(dict.fromkeys(followers))


def tell_followers(
    session: Session, case: Case, event: CaseEvent, now: dt.datetime, *, new: bool = False
) -> None:
    """Tell everyone following the case of a public event: an in-app message, and a subscribe message where
    they granted one. A `new` case, filed in this transaction, has no follower but its reporter: nobody
    else can have seen it, so nobody is looked for."""
    reporter = [case.reporter_id] if case.reporter_id else []
    followers = reporter if new else followers_of(session, case)
    if not followers:
        return
    if case.id is None:
        session.flush()  # a case filed in this transaction: written now, so that its messages can point at it
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
