"""Reading cases: a resident's own, the squad's inbox, the bureau's triage queue, similar and merged cases, and
the sensitive reads (a case page, a reporter's phone) that go on the audit trail."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.models import Case, CaseEvent, CasePhoto, CaseStatus, CaseSupporter
from backend.cases.services.access import require_staff_scope
from backend.cases.workflow import BUREAU_ROLES, OPEN, SQUAD_ROLES, TIMED, Actor, Role
from backend.errors import Forbidden, NotFound
from backend.org.models import Estate, Squad
from backend.pagination import MAX_PAGE, Page, paginate
from backend.taxonomy.models import Category
from backend.uploads.models import Upload
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


# A resident's own reports are read on every visit to the mini-program, so their statements are built once
# (building one and its cache key costs more than running it) with the request's values as parameters.

# What a resident sees of a case (the mini-program's list and detail, the bot's list) and no more, with what it
# shows beside it (category, estate, squad) joined in the same query: a case row is wide, and reading all of it
# would cost more than the rest of the request. Any other column loads when first read, one statement a case,
# which tests/miniprogram_api/test_read_cost.py would count.
_SHOWN = (
    load_only(
        Case.tracking_no,
        Case.status,
        Case.category_code,
        Case.category_confirmed,
        Case.estate_id,
        Case.squad_id,
        Case.reporter_id,
        Case.address,
        Case.building,
        Case.unit,
        Case.room,
        Case.description,
        Case.anonymous,
        Case.contact_phone,
        Case.created_at,
        Case.sign_due_at,
        Case.onsite_due_at,
        Case.handle_due_at,
        Case.public_reply,
        Case.rating,
        Case.supporter_count,
    ),
    joinedload(Case.category).load_only(Category.name),
    joinedload(Case.estate).load_only(Estate.name),
    joinedload(Case.squad).load_only(Squad.name),
)
_REPORTED_BY_USER = Case.reporter_id == bindparam("user_id")
_RESIDENTS_PAGE = (
    select(Case)
    .where(_REPORTED_BY_USER)
    .options(*_SHOWN)
    .order_by(Case.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_RESIDENTS_TOTAL = select(func.count()).select_from(Case).where(_REPORTED_BY_USER)
# A case by its number, only for its reporter or a resident who supports it.
_RESIDENTS_CASE = select(Case).where(
    Case.tracking_no == bindparam("tracking_no"),
    or_(
        _REPORTED_BY_USER,
        select(CaseSupporter.id)
        .where(CaseSupporter.case_id == Case.id, CaseSupporter.user_id == bindparam("user_id"))
        .exists(),
    ),
)
# to act on it: all of it, its timeline and photos (with their uploads) one query each
_CASE_TO_ACT_ON = _RESIDENTS_CASE.options(
    joinedload(Case.category),
    joinedload(Case.estate),
    joinedload(Case.squad),
    selectinload(Case.events),
    selectinload(Case.photos).joinedload(CasePhoto.upload, innerjoin=True),
)
# to read it: what it shows; then the timeline without its notes, the photos with who uploaded them, one query
# each, built once as well (a selectinload would build its query and cache key on every read)
_CASE_TO_READ = _RESIDENTS_CASE.options(*_SHOWN)
_TIMELINE = (
    select(CaseEvent)
    .where(CaseEvent.case_id == bindparam("case_id"))
    .options(
        load_only(
            CaseEvent.action, CaseEvent.to_status, CaseEvent.public, CaseEvent.data, CaseEvent.created_at
        )
    )
    .order_by(CaseEvent.id)
)
_PHOTOS = (
    select(CasePhoto)
    .where(CasePhoto.case_id == bindparam("case_id"))
    .options(
        load_only(CasePhoto.upload_id, CasePhoto.kind, CasePhoto.position),
        joinedload(CasePhoto.upload, innerjoin=True).load_only(Upload.owner_id),
    )
    .order_by(CasePhoto.position)
)
_TRACKING_NO = re.compile(r"QP\d{8}-\d{4,6}")


def get_case_for_resident(session: Session, tracking_no: str, user: User) -> Case:
    """A case its reporter, or a resident who supports it, may read and act on; NotFound for anyone else,
    so that nobody can learn whether a number exists."""
    return _residents_case(session, _CASE_TO_ACT_ON, tracking_no, user)


def read_case_for_resident(session: Session, tracking_no: str, user: User) -> Case:
    """What get_case_for_resident finds, loaded only as far as a resident's detail page shows it."""
    case = _residents_case(session, _CASE_TO_READ, tracking_no, user)
    values = {"case_id": case.id}
    set_committed_value(case, "events", list(session.scalars(_TIMELINE, values)))
    set_committed_value(case, "photos", list(session.scalars(_PHOTOS, values)))
    return case


def _residents_case(session: Session, query: Select[Case], tracking_no: str, user: User) -> Case:
    if not _TRACKING_NO.fullmatch(tracking_no):
        raise NotFound("没有找到这条反映", code="case_not_found")
    case = session.scalar(query, {"tracking_no": tracking_no, "user_id": user.id})
    if case is None:
        raise NotFound("没有找到这条反映", code="case_not_found")
    return case


def list_resident_cases(session: Session, user: User, *, page: int, per_page: int) -> Page[Case]:
    """A resident's own reports, newest first. The page is read with one report more than it shows: without
    one, it is the last page, which tells the total; only when there are more, or it lies past the end, are
    they counted."""
    page = max(page, 1)
    offset = (page - 1) * per_page
    found: list[Case] = []
    if page <= MAX_PAGE:
        values = {"user_id": user.id, "limit": per_page + 1, "offset": offset}
        found = list(session.scalars(_RESIDENTS_PAGE, values))
    if len(found) <= per_page and (found or page == 1):
        total = offset + len(found)
    else:
        total = session.scalar(_RESIDENTS_TOTAL, {"user_id": user.id}) or 0
    return Page(found[:per_page], page, per_page, total)


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
