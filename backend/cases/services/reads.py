"""Reading cases: a resident's own, the squad's inbox, the bureau's triage queue, similar and merged cases, and
the sensitive reads (a case page, a reporter's phone) that go on the audit trail."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.models import Case, CasePhoto, CaseStatus, CaseSupporter
from backend.cases.services.access import require_staff_scope
from backend.cases.workflow import BUREAU_ROLES, OPEN, SQUAD_ROLES, TIMED, Actor, Role
from backend.errors import Forbidden, NotFound
from backend.org.models import Estate
from backend.pagination import Page, paginate
from backend.workcalendar import SHANGHAI


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


def reveal_reporter_phone(
    session: Session, case: Case, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> str | None:
    """The reporter's phone for an officer who pressed 显示; logged. None for an anonymous report."""
    require_staff_scope(case, actor)
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


def _tab_conditions(tab: str, actor: Actor, now: dt.datetime) -> list[ColumnElement[bool]]:
    """Which cases an inbox tab holds (all of them: "all")."""
    timed = Case.status.in_([s.value for s in TIMED])
    if tab == "to_sign":
        return [Case.status == CaseStatus.DISPATCHED]
    if tab == "mine":
        return [Case.assignee_id == actor.id, Case.status.in_([s.value for s in OPEN])]
    if tab == "in_progress":
        return [Case.status.in_(_IN_PROGRESS)]
    if tab == "due_today":
        tomorrow = now.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
        return [timed, Case.next_due_at < dt.datetime.combine(tomorrow, dt.time(), SHANGHAI)]
    if tab == "overdue":
        return [timed, Case.next_due_at <= now]
    return []


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
    elif actor.role not in BUREAU_ROLES:
        raise Forbidden()
    elif squad_id is not None:
        query = query.where(Case.squad_id == squad_id)
    tab = filters.tab if filters.tab in INBOX_TABS else "to_sign"
    query = query.where(*_tab_conditions(tab, actor, now))
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
