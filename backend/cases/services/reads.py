"""Reading cases: a resident's own, the squad's inbox, the bureau's triage queue, similar and merged cases, and
the sensitive reads (a case page, a reporter's phone) that go on the audit trail."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Select,
    String,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, joinedload, load_only, selectinload
from sqlalchemy.types import TypeDecorator

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.models import Case, CaseEvent, CasePhoto, CaseStatus, CaseSupporter
from backend.cases.services.access import require_staff_scope
from backend.cases.workflow import BUREAU_ROLES, OPEN, SQUAD_ROLES, TIMED, Actor, Role
from backend.errors import Forbidden, NotFound
from backend.org.models import Estate, Squad
from backend.pagination import MAX_PAGE, Page
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

# What a resident sees of a case (in the bot's list of their reports; the mini-program reads it as a
# ShownCase, below) and no more, with what it shows beside it (category, estate, squad) joined in the same
# query: a case row is wide, and reading all of it would cost more than the rest of the request. Any other
# column loads when first read, one statement a case.
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
_MAY_READ = (
    Case.tracking_no == bindparam("tracking_no"),
    or_(
        _REPORTED_BY_USER,
        select(CaseSupporter.id)
        .where(CaseSupporter.case_id == Case.id, CaseSupporter.user_id == bindparam("user_id"))
        .exists(),
    ),
)
_RESIDENTS_CASE = select(Case).where(*_MAY_READ)
# to act on it: all of it, its timeline and photos (with their uploads) one query each
_CASE_TO_ACT_ON = _RESIDENTS_CASE.options(
    joinedload(Case.category),
    joinedload(Case.estate),
    joinedload(Case.squad),
    selectinload(Case.events),
    selectinload(Case.photos).joinedload(CasePhoto.upload, innerjoin=True),
)
_TRACKING_NO = re.compile(r"QP\d{8}-\d{4,6}")


# The mini-program's list and detail read plain rows (ShownCase), not Cases: making the ORM objects of a page,
# with their category, estate and squad, costs several times what reading the rows does.


class _InstantText(TypeDecorator[dt.datetime]):
    """A UTCDateTime column read as its text ("2026-11-02 09:30:00.000000") and parsed here: PyMySQL parses a
    DATETIME with a regular expression in Python, several times slower than datetime.fromisoformat, and a page
    of reports holds eighty of them."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _instant(column: Any) -> Any:
    return type_coerce(cast(column, String), _InstantText())


class CategoryName(NamedTuple):
    code: str
    name: str


class EstateName(NamedTuple):
    id: int
    name: str


class SquadName(NamedTuple):
    name: str


class UploadOwner(NamedTuple):
    owner_id: int | None


class ShownEvent(NamedTuple):
    """A public step of a case's timeline, under CaseEvent's names (timeline.public_text reads it)."""

    action: str
    to_status: str | None
    public: bool
    data: dict[str, Any]
    created_at: dt.datetime


class ShownPhoto(NamedTuple):
    """A photo of a case and who uploaded it, under CasePhoto's names (photos_for_resident chooses)."""

    upload_id: str
    kind: str
    owner_id: int | None

    @property
    def upload(self) -> UploadOwner:
        return UploadOwner(self.owner_id)


class ShownCase(NamedTuple):
    """What a resident's list and detail show of a case, under Case's own names, so that what reads a Case
    (the serialiser, the timeline's rules) reads it too. Its timeline and photos are read for the detail
    only."""

    id: int
    tracking_no: str
    status: str
    category_code: str | None
    category_name: str | None
    category_confirmed: bool
    estate_id: int | None
    estate_name: str | None
    squad_id: int | None
    squad_name: str | None
    reporter_id: int | None
    address: str
    building: str
    unit: str
    room: str
    description: str
    anonymous: bool
    contact_phone: str | None
    created_at: dt.datetime
    sign_due_at: dt.datetime | None
    onsite_due_at: dt.datetime | None
    handle_due_at: dt.datetime | None
    public_reply: str
    rating: str | None
    supporter_count: int
    events: tuple[ShownEvent, ...] = ()
    photos: tuple[ShownPhoto, ...] = ()

    @property
    def category(self) -> CategoryName | None:
        if self.category_code is None or self.category_name is None:
            return None
        return CategoryName(self.category_code, self.category_name)

    @property
    def estate(self) -> EstateName | None:
        if self.estate_id is None or self.estate_name is None:
            return None
        return EstateName(self.estate_id, self.estate_name)

    @property
    def squad(self) -> SquadName | None:
        return None if self.squad_name is None else SquadName(self.squad_name)


# where each field of a ShownCase is read from (those with a default are not read with the row)
_SHOWN_COLUMNS: dict[str, Any] = {
    "id": Case.id,
    "tracking_no": Case.tracking_no,
    "status": Case.status,
    "category_code": Case.category_code,
    "category_name": Category.name,
    "category_confirmed": Case.category_confirmed,
    "estate_id": Case.estate_id,
    "estate_name": Estate.name,
    "squad_id": Case.squad_id,
    "squad_name": Squad.name,
    "reporter_id": Case.reporter_id,
    "address": Case.address,
    "building": Case.building,
    "unit": Case.unit,
    "room": Case.room,
    "description": Case.description,
    "anonymous": Case.anonymous,
    "contact_phone": Case.contact_phone,
    "created_at": _instant(Case.created_at),
    "sign_due_at": _instant(Case.sign_due_at),
    "onsite_due_at": _instant(Case.onsite_due_at),
    "handle_due_at": _instant(Case.handle_due_at),
    "public_reply": Case.public_reply,
    "rating": Case.rating,
    "supporter_count": Case.supporter_count,
}
_ROW_FIELDS = [name for name in ShownCase._fields if name not in ShownCase._field_defaults]
_SHOWN_ROWS = (
    select(*(_SHOWN_COLUMNS[name].label(name) for name in _ROW_FIELDS))
    .select_from(Case)
    .outerjoin(Category, Category.code == Case.category_code)
    .outerjoin(Estate, Estate.id == Case.estate_id)
    .outerjoin(Squad, Squad.id == Case.squad_id)
)
_SHOWN_PAGE = (
    _SHOWN_ROWS.where(_REPORTED_BY_USER)
    .order_by(Case.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
# the detail: the case, and whether it has photos (without any, none are read)
_CASE_TO_READ = _SHOWN_ROWS.add_columns(
    select(CasePhoto.id).where(CasePhoto.case_id == Case.id).exists().label("has_photos")
).where(*_MAY_READ)
# its timeline without the internal steps (public_events keeps the rule, the filter reads no note at all)
_PUBLIC_TIMELINE = (
    select(
        CaseEvent.action,
        CaseEvent.to_status,
        CaseEvent.public,
        CaseEvent.data,
        _instant(CaseEvent.created_at).label("created_at"),
    )
    .where(CaseEvent.case_id == bindparam("case_id"), CaseEvent.public.is_(True))
    .order_by(CaseEvent.id)
)
# its photos, all kinds, with who uploaded them: photos_for_resident chooses which a resident sees
_PHOTOS = (
    select(CasePhoto.upload_id, CasePhoto.kind, Upload.owner_id)
    .join(Upload, Upload.id == CasePhoto.upload_id)
    .where(CasePhoto.case_id == bindparam("case_id"))
    .order_by(CasePhoto.position)
)
_R = TypeVar("_R")


def get_case_for_resident(session: Session, tracking_no: str, user: User) -> Case:
    """A case its reporter, or a resident who supports it, may read and act on; NotFound for anyone else,
    so that nobody can learn whether a number exists."""
    if not _TRACKING_NO.fullmatch(tracking_no):
        raise NotFound("没有找到这条反映", code="case_not_found")
    case = session.scalar(_CASE_TO_ACT_ON, {"tracking_no": tracking_no, "user_id": user.id})
    if case is None:
        raise NotFound("没有找到这条反映", code="case_not_found")
    return case


def read_case_for_resident(session: Session, tracking_no: str, user: User) -> ShownCase:
    """What get_case_for_resident finds (NotFound as it does), as far as a resident's detail shows it: the
    case, its public timeline, and its photos when it has any."""
    if not _TRACKING_NO.fullmatch(tracking_no):
        raise NotFound("没有找到这条反映", code="case_not_found")
    connection = _connection(session)
    found = connection.execute(_CASE_TO_READ, {"tracking_no": tracking_no, "user_id": user.id}).first()
    if found is None:
        raise NotFound("没有找到这条反映", code="case_not_found")
    case = ShownCase(*found[:-1])  # its last column is has_photos
    values = {"case_id": case.id}
    events = tuple(ShownEvent._make(row) for row in connection.execute(_PUBLIC_TIMELINE, values))
    photos = (
        tuple(ShownPhoto._make(row) for row in connection.execute(_PHOTOS, values))
        if found.has_photos
        else ()
    )
    return case._replace(events=events, photos=photos)


def list_resident_cases(session: Session, user: User, *, page: int, per_page: int) -> Page[Case]:
    """A resident's own reports, newest first, as Cases (the bot's list of them)."""
    return _residents_page(
        session, user, page, per_page, lambda values: list(session.scalars(_RESIDENTS_PAGE, values))
    )


def list_resident_reports(session: Session, user: User, *, page: int, per_page: int) -> Page[ShownCase]:
    """A resident's own reports, newest first, as the mini-program's list shows them."""
    connection = _connection(session)
    return _residents_page(
        session,
        user,
        page,
        per_page,
        lambda values: [ShownCase(*row) for row in connection.execute(_SHOWN_PAGE, values)],
    )


def _residents_page(
    session: Session, user: User, page: int, per_page: int, read: Callable[[dict[str, int]], list[_R]]
) -> Page[_R]:
    """The page is read with one report more than it shows: without one, it is the last page, which tells the
    total; only when there are more, or it lies past the end, are they counted."""
    page = max(page, 1)
    offset = (page - 1) * per_page
    found: list[_R] = []
    if page <= MAX_PAGE:
        found = read({"user_id": user.id, "limit": per_page + 1, "offset": offset})
    if len(found) <= per_page and (found or page == 1):
        total = offset + len(found)
    else:
        total = session.scalar(_RESIDENTS_TOTAL, {"user_id": user.id}) or 0
    return Page(found[:per_page], page, per_page, total)


def _connection(session: Session) -> Connection:
    """The session's connection, for a read of plain rows: the session's pending changes are written first, as
    its own queries would."""
    if session.autoflush:
        session.flush()
    return session.connection()


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


class InboxCase(NamedTuple):
    """What an inbox row shows of a case, read as plain columns: a page of them is read at every visit to the
    inbox, and a Case (every column, an ORM object) costs many times more. Its category and estate come as a
    code and an id, for the page to name from the catalogs it keeps (backend/cache.py). A tuple: made from a
    row, compared and hashed at C speed (the console keeps the rows it has drawn by it)."""

    tracking_no: str
    status: str
    source: str
    priority: int
    supervised: bool
    category_code: str | None
    category_confirmed: bool
    estate_id: int | None
    address: str
    building: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    next_due_at: dt.datetime | None
    onsite_due_at: dt.datetime | None
    onsite_at: dt.datetime | None


_INBOX_COLUMNS = tuple(getattr(Case, name) for name in InboxCase._fields)


def _tab_conditions(tab: str) -> list[ColumnElement[bool]]:
    """Which cases an inbox tab holds (all of them: "all"). What they compare with is a parameter (`actor_id`,
    `now`, `tomorrow`: see list_inbox), so that each statement is built once."""
    timed = Case.status.in_([s.value for s in TIMED])
    if tab == "to_sign":
        return [Case.status == CaseStatus.DISPATCHED]
    if tab == "mine":
        return [Case.assignee_id == bindparam("actor_id"), Case.status.in_([s.value for s in OPEN])]
    if tab == "in_progress":
        return [Case.status.in_(_IN_PROGRESS)]
    if tab == "due_today":
        return [timed, Case.next_due_at < bindparam("tomorrow")]
    if tab == "overdue":
        return [timed, Case.next_due_at <= bindparam("now")]
    return []


@dataclass(frozen=True, slots=True)
class _InboxReads:
    count: Select[int, int]  # the tab's cases, and how many of them have a deadline running
    timed: Select[Any]  # a page of those with a deadline running, the soonest first
    untimed: Select[Any]  # a page of those without (closed, merged …), after them


@functools.cache
def _inbox_reads(
    squad: str, tab: str, category: bool, estate: bool, source: bool, key_only: bool
) -> _InboxReads:
    """The statements of one kind of inbox page, built once per process (building a statement and its cache
    key costs more than running it); `squad` is "one" (the `squad_id` parameter's), "none" or "any"."""
    where = _tab_conditions(tab)
    if squad == "one":
        where.append(Case.squad_id == bindparam("squad_id"))
    elif squad == "none":
        where.append(Case.squad_id.is_(None))
    if category:
        where.append(Case.category_code == bindparam("category"))
    if estate:
        where.append(Case.estate_id == bindparam("estate_id"))
    if source:
        where.append(Case.source == bindparam("source"))
    count = select(func.count(), func.count(Case.next_due_at)).select_from(Case)
    rows = select(*_INBOX_COLUMNS)
    if key_only:
        where.append(Estate.is_key.is_(True))
        count, rows = (q.join(Estate, Estate.id == Case.estate_id) for q in (count, rows))
    rows = rows.where(*where).limit(bindparam("limit")).offset(bindparam("offset"))
    return _InboxReads(
        count=count.where(*where),
        # both in the order of ix_case_file_squad_inbox: a page reads its own rows, not the whole tab's
        timed=rows.where(Case.next_due_at.is_not(None)).order_by(
            Case.next_due_at, Case.priority.desc(), Case.id
        ),
        untimed=rows.where(Case.next_due_at.is_(None)).order_by(Case.priority.desc(), Case.id),
    )


def list_inbox(
    session: Session,
    actor: Actor,
    filters: InboxFilter,
    *,
    now: dt.datetime,
    squad_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[InboxCase]:
    """A squad's (or, for the bureau, any squad's or the whole district's) cases, the soonest running
    deadline first (the stage's or the on-site clock's, whichever comes first), the more urgent and then the
    older first at the same deadline, and those without a running deadline last.

    The count tells how many have a deadline running, so the page is read from those in deadline order and,
    only past them, from the others in their own order: two reads an index serves, where one ordered by
    "no deadline last" would sort the whole tab for every page."""
    if actor.role in SQUAD_ROLES:
        squad, squad_id = ("one" if actor.squad_id is not None else "none"), actor.squad_id
    elif actor.role not in BUREAU_ROLES:
        raise Forbidden()
    else:
        squad = "any" if squad_id is None else "one"
    tab = filters.tab if filters.tab in INBOX_TABS else "to_sign"
    reads = _inbox_reads(
        squad, tab, bool(filters.category), bool(filters.estate_id), bool(filters.source), filters.key_only
    )
    tomorrow = now.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    values: dict[str, Any] = {
        "squad_id": squad_id,
        "actor_id": actor.id,
        "now": now,
        "tomorrow": dt.datetime.combine(tomorrow, dt.time(), SHANGHAI),
        "category": filters.category,
        "estate_id": filters.estate_id,
        "source": filters.source,
    }
    if session.autoflush:
        session.flush()  # as a query through the session would
    # Core on the session's connection: plain rows, without the ORM's execution layer
    connection = session.connection()
    total, timed = connection.execute(reads.count, values).one()
    page = max(page, 1)
    offset = (page - 1) * per_page
    found: list[InboxCase] = []
    if page <= MAX_PAGE:
        if offset < timed:
            rows = connection.execute(reads.timed, {**values, "limit": per_page, "offset": offset})
            found.extend(map(InboxCase._make, rows))
        if len(found) < per_page and total > max(timed, offset):
            limit, past = per_page - len(found), max(offset - timed, 0)
            rows = connection.execute(reads.untimed, {**values, "limit": limit, "offset": past})
            found.extend(map(InboxCase._make, rows))
    return Page(found, page, per_page, total)


def merged_children(session: Session, case: Case) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.parent_id == case.id).order_by(Case.id)))
