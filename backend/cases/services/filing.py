"""Filing a report: validation of what the services decide, routing (estate → town → squad), the tracking
number, priority, deadlines and the category suggested from the text; also the console's intake, and a case
filed for a property company from its patrol's finding."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Insert,
    bindparam,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.audit.services import record_audit
from backend.cache import ESTATES, cached_for
from backend.cases.models import (
    Case,
    CasePhoto,
    CaseSource,
    CaseStatus,
    PhotoKind,
    Priority,
    TrackingCounter,
)
from backend.cases.services.deadlines import counts_as_in_progress, set_deadlines
from backend.cases.services.life import take_step
from backend.cases.services.timeline import record_event, tell_followers
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, SYSTEM, Actor, Role
from backend.db import Base, as_loaded, utcnow
from backend.errors import Forbidden, RateLimited, ValidationFailed
from backend.org.models import Estate, Squad, Town
from backend.org.services import estate_index, kept_rows
from backend.taxonomy.models import Category
from backend.taxonomy.services import FilingCatalog, filing_catalog
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI
from bot.rules import construction_in_progress

MAX_PHOTOS = 9  # as many as WeChat lets a resident choose at once
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 1000  # characters of a report's description


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
    received_at: dt.datetime | None = None  # when the hotline took the call (UTC): on the submit event


def submit_report(
    session: Session,
    reporter: User | None,
    data: ReportInput,
    *,
    daily_limit: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Case, bool]:
    """File a report: returns the case and whether it is new. The same `client_request_id` from the same
    reporter returns the first case. The case is routed, numbered, timed and, with a squad, dispatched.

    Everything is read and decided before the day's tracking counter is taken, and nothing is written
    before it: its row lock serialises every filing until the caller commits, so what follows it is only
    the case's own rows, written together (see `_number_and_write`)."""
    now = now or utcnow()
    if reporter is not None:
        existing_id, filed_today = _earlier_reports(
            session, reporter.id, data.client_request_id, counted=daily_limit is not None, now=now
        )
        if existing_id is not None:
            return session.get_one(Case, existing_id), False
        if daily_limit is not None and filed_today >= daily_limit:
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
        priority=_priority(estate, counts_as_in_progress(category, in_progress)),
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
        updated_at=now,
        events=[],  # a new case's timeline is known to be empty: never read back
        # each with its upload, which the reporter's answer reads (whose photo it is) without a query
        photos=[CasePhoto(upload_id=p.id, upload=p, kind="report", position=i) for i, p in enumerate(photos)],
    )
    # the keys too, which the relationships would fill only when the case is written: the steps below
    # (who may dispatch, whom to tell) read them first
    case.category_code = category.code if category is not None else None
    case.estate_id = estate.id if estate is not None else None
    case.town_id = town.id if town is not None else None
    case.squad_id = squad.id if squad is not None else None
    case.reporter_id = reporter.id if reporter is not None else None
    set_deadlines(case, now)
    facts: dict[str, object] = {
        "in_progress": in_progress,
        "in_progress_from": "report" if said_in_progress is not None else "text",
    }
    if data.received_at is not None:
        facts["received_at"] = data.received_at.astimezone(dt.UTC).isoformat()
    if reporter is None or not data.client_request_id:
        _number_and_write(session, case, facts, now)
        return case, True
    try:
        _number_and_write(session, case, facts, now)
    except IntegrityError:
        # the same client_request_id raced in from another request: answer with the case that won. Nothing
        # of this one was written and its number was given back (see _write_new_case); a locking read sees
        # the row the other transaction committed, past our snapshot.
        existing = _by_client_request(session, reporter.id, data.client_request_id, latest=True)
        if existing is not None:
            return existing, False
        raise
    return case, True


def _number_and_write(session: Session, case: Case, facts: dict[str, object], now: dt.datetime) -> None:
    """Put the case on the timeline and dispatch it to its squad, then number it and write it. The counter is
    the first statement, and only the case's own rows follow it: the case, its events, its photos and the
    audit entry, one statement a table, then the reporter's grant spent and their message (which points at
    the case). No row is read and nothing is decided while the counter is held. A racing duplicate (the same
    client_request_id, or the same 12345 order) fails on the case's unique key, the first row written, and
    raises IntegrityError having written nothing (its number given back)."""
    actor = Actor(Role.RESIDENT, case.reporter_id, "居民") if case.reporter_id is not None else SYSTEM
    # the case is not in the session yet: its events join its timeline, and are written with it
    record_event(session, case, "submit", None, CaseStatus.SUBMITTED, actor, data=facts, now=now)
    step = None
    if case.squad is not None:
        note = f"按小区所属街镇派至{case.squad.name}"
        step = take_step(session, case, "dispatch", SYSTEM, note=note, now=now)
    audit = [step.audit] if step is not None else []
    for entry in audit:
        session.expunge(entry)  # recorded in the session by the step: written with the case instead
    if session.autoflush:
        session.flush()  # what the caller changed before is written before the counter is taken, not under it
    case.tracking_no = issue_tracking_no(session, now)
    for entry in audit:
        entry.target_id = case.tracking_no  # the entry names the case by its number, known only now
    _write_new_case(session, case, audit, now)
    if step is not None and step.tell:
        tell_followers(session, case, step.event, now, new=True)


def _write_new_case(session: Session, case: Case, audit: list[AuditEntry], now: dt.datetime) -> None:
    """Write a new case with its events, its photos and the audit entries of its filing, one statement a
    table through Core, and have the session hold them all as if it had read them back: the ORM's unit of
    work costs more than the rows it writes, and nothing here needs it (no row is read back).

    The case comes first: when it fails on a unique key (a racing duplicate), nothing of the filing is
    written, and the number it took is given back, so that numbers stay gap-free without a savepoint. The
    counter's row lock, held since the number was taken, means that it is still the last number issued
    (MariaDB and SQLite roll back only the statement that failed, never the transaction)."""
    connection = session.connection()
    try:
        _insert_all(connection, [case])
    except IntegrityError:
        connection.execute(_GIVE_BACK, {"counted_day": _day(now)})
        raise
    for event in case.events:
        event.case_id = case.id
    for photo in case.photos:
        photo.case_id = case.id
    for rows in (case.events, case.photos, audit):
        _insert_all(connection, rows)
    for row in (*case.events, *case.photos, *audit, case):
        make_transient_to_detached(row)
    session.add(case)  # and its events and photos with it
    session.add_all(audit)


_GIVE_BACK = (
    update(TrackingCounter)
    .where(TrackingCounter.day == bindparam("counted_day"))
    .values(last=TrackingCounter.last - 1)
)


def _insert_all(connection: Connection, rows: Sequence[Base]) -> None:
    """Insert the rows (of one model) in one statement where the database returns their ids in order, else
    one at a time; each gets its id. A column a row has no value for takes its default, given to the row
    too (as the ORM's flush would), so that the row holds what was written."""
    if not rows:
        return
    writes = _writes_of(type(rows[0]))
    values = [_column_values(row, writes) for row in rows]
    if len(rows) > 1 and connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        ids = list(connection.execute(writes.returning_id, values).scalars())
    else:
        ids = []
        for row_values in values:
            key = connection.execute(writes.one, row_values).inserted_primary_key
            assert key is not None
            ids.append(key[0])
    for row, row_id in zip(rows, ids, strict=True):
        setattr(row, writes.id_attribute, row_id)


@dataclass(frozen=True)
class _Writes:
    """How the rows of a model are inserted: its statements and its columns, worked out once."""

    one: Insert
    returning_id: Insert
    id_attribute: str
    columns: tuple[tuple[str, str, Any], ...]  # (attribute, column, its default) of each column but the id


def _writes_of(model: type[Base]) -> _Writes:
    if model not in _WRITES:
        mapper = inspect(model)
        (id_column,) = mapper.primary_key
        columns = []
        for attribute in mapper.column_attrs:
            column = attribute.columns[0]
            if column is id_column:
                continue
            # a default the database fills in would not be on the row: none of the models written here has one
            assert column.server_default is None, f"{column} has a server default"
            columns.append((attribute.key, column.name, column.default))
        _WRITES[model] = _Writes(
            one=insert(model),
            returning_id=insert(model).returning(id_column, sort_by_parameter_order=True),
            id_attribute=mapper.get_property_by_column(id_column).key,
            columns=tuple(columns),
        )
    return _WRITES[model]


_WRITES: dict[type[Base], _Writes] = {}


def _column_values(row: Base, writes: _Writes) -> dict[str, Any]:
    held = inspect(row).dict
    for attribute, _column, default in writes.columns:
        if attribute not in held:
            value = None if default is None else default.arg(None) if default.is_callable else default.arg
            setattr(row, attribute, value)
    return {column: held[attribute] for attribute, column, _default in writes.columns}


def _hold(instance: Base, relationship: str, value: Base | None) -> None:
    """Give `instance` its related row without a statement, unless it has one already."""
    if relationship not in inspect(instance).dict:
        set_committed_value(instance, relationship, value)


def _by_client_request(
    session: Session, reporter_id: int, client_request_id: str, *, latest: bool = False
) -> Case | None:
    query = select(Case).where(Case.reporter_id == reporter_id, Case.client_request_id == client_request_id)
    if latest:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalar(query)


def _earlier_reports(
    session: Session, reporter_id: int, client_request_id: str | None, *, counted: bool, now: dt.datetime
) -> tuple[int | None, int]:
    """The case the reporter already filed under `client_request_id` (its id), and how many reports they
    filed today when `counted`: both in one query (0 when not counted)."""
    asked = (bool(client_request_id), counted)
    if asked == (False, False):
        return None, 0
    if session.autoflush:
        session.flush()  # as a query would: a case filed earlier in this transaction counts
    row = (
        session.connection()
        .execute(
            _EARLIER[asked],
            {"reporter": reporter_id, "request": client_request_id, "start": _start_of_day(now)},
        )
        .one()
    )
    return (row[0] if client_request_id else None), (int(row[-1] or 0) if counted else 0)


def _start_of_day(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.astimezone(SHANGHAI).date(), dt.time(), SHANGHAI)


_FIRST = (
    select(Case.id)
    .where(Case.reporter_id == bindparam("reporter"), Case.client_request_id == bindparam("request"))
    .scalar_subquery()
)
_TODAY = (
    select(func.count(Case.id))
    .where(Case.reporter_id == bindparam("reporter"), Case.created_at >= bindparam("start"))
    .scalar_subquery()
)
# (a request id given, today's reports counted) → the query: built once
_EARLIER = {
    (True, True): select(_FIRST, _TODAY),
    (True, False): select(_FIRST),
    (False, True): select(_TODAY),
}


def reports_today(session: Session, reporter_id: int, now: dt.datetime) -> int:
    """How many reports the reporter filed today (Shanghai's day)."""
    return (
        session.scalar(_EARLIER[(False, True)], {"reporter": reporter_id, "start": _start_of_day(now)}) or 0
    )


def _choose_category(session: Session, data: ReportInput) -> tuple[Category | None, bool]:
    catalog = filing_catalog(session)  # kept per process: no query while the catalog is unchanged
    if data.category:
        row = catalog.rows.get(data.category)
        if row is None:
            raise ValidationFailed.on("category", "没有这个问题类别")
        if row["group_code"] is None:
            raise ValidationFailed.on("category", "该问题不属于本次专项行动，请拨打 12345 市民服务热线")
        return as_loaded(session, Category, row), True
    code = _guess(catalog, data.description)
    return (as_loaded(session, Category, catalog.rows[code]) if code is not None else None), False


def suggest_category(session: Session, text: str) -> Category | None:
    """The category whose keywords cover most of `text` (longer keywords weigh more); None if none match.
    A stand-in until the bot's classifier replaces it."""
    catalog = filing_catalog(session)
    code = _guess(catalog, text)
    return as_loaded(session, Category, catalog.rows[code]) if code is not None else None


def _guess(catalog: FilingCatalog, text: str) -> str | None:
    scores: dict[str, int] = {}
    # in the categories' order, so that of two equal scores the first category met (lowest position) wins
    for code, keyword in catalog.keywords:
        if keyword and keyword in text:
            scores[code] = scores.get(code, 0) + len(keyword)
    scores.pop("out_of_scope", None)
    if not scores:
        return None
    return max(scores, key=scores.__getitem__)


def _locate(session: Session, data: ReportInput) -> tuple[Estate | None, Town | None]:
    """The estate and its town, or the town, each with the town's squad held: routing reads them next."""
    if data.estate_id is not None:
        estate = routed_estate(session, data.estate_id)
        if estate is None:
            raise ValidationFailed.on("estate_id", "没有这个小区")
        return estate, estate.town
    if not data.address:
        raise ValidationFailed.on("address", "请选择小区或填写地址")
    if data.town:
        found = estate_index(session).find_town(data.town)
        if found is None:
            raise ValidationFailed.on("town", "没有这个街镇")
        town = as_loaded(session, Town, kept_rows(session, Town)[found.id])
        squad = kept_rows(session, Squad, by="town_id").get(town.id)
        _hold(town, "squad", as_loaded(session, Squad, squad) if squad is not None else None)
        return None, town
    return None, None  # no town known: the bureau's triage queue


def routed_estate(session: Session, estate_id: int) -> Estate | None:
    """The estate with its town and the town's squad, kept per process with the estate list (no query while
    it is unchanged); None when there is no such estate."""
    rows = cached_for(
        session, ESTATES, estate_id, lambda reader: _read_route(reader, estate_id), part="filing", size=4096
    )
    if rows is None:
        return None
    estate_row, town_row, squad_row = rows
    estate = as_loaded(session, Estate, estate_row)
    town = as_loaded(session, Town, town_row)
    squad = as_loaded(session, Squad, squad_row) if squad_row is not None else None
    _hold(estate, "town", town)
    _hold(town, "squad", squad)
    return estate


_Row = Mapping[str, Any]


def _labelled(model: type[Base], prefix: str) -> list[Any]:
    return [column.label(prefix + column.key) for column in model.__table__.columns]


_ROUTE = (
    select(*_labelled(Estate, "e_"), *_labelled(Town, "t_"), *_labelled(Squad, "s_"))
    .join(Town, Town.id == Estate.town_id)
    .outerjoin(Squad, Squad.town_id == Town.id)
    .where(Estate.id == bindparam("estate_id"))
)


def _read_route(session: Session, estate_id: int) -> tuple[_Row, _Row, _Row | None] | None:
    row = session.execute(_ROUTE, {"estate_id": estate_id}).mappings().one_or_none()
    if row is None:
        return None
    estate, town, squad = (
        MappingProxyType({k[2:]: v for k, v in row.items() if k.startswith(p)}) for p in ("e_", "t_", "s_")
    )
    return estate, town, (squad if squad["id"] is not None else None)


def _reporter_photos(session: Session, reporter: User | None, photo_ids: list[str]) -> list[Upload]:
    if len(photo_ids) > MAX_PHOTOS:
        raise ValidationFailed.on("photos", f"最多 {MAX_PHOTOS} 张照片")
    if len(set(photo_ids)) != len(photo_ids):
        raise ValidationFailed.on("photos", "照片重复")
    if not photo_ids:
        return []
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(photo_ids)))}
    if _unusable(uploads, reporter, photo_ids):
        raise ValidationFailed.on("photos", "照片不存在或已过期，请重新上传")
    return [uploads[p] for p in photo_ids]


def unusable_photos(session: Session, reporter: User | None, photo_ids: list[str]) -> list[str]:
    """The photos a report by `reporter` could not carry: uploads that are gone (expired) or not the
    reporter's own; the two are never told apart, so nobody learns whether another's photo exists."""
    if not photo_ids:
        return []
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(photo_ids)))}
    return _unusable(uploads, reporter, photo_ids)


def _unusable(uploads: dict[str, Upload], reporter: User | None, photo_ids: list[str]) -> list[str]:
    return [
        p
        for p in photo_ids
        if (upload := uploads.get(p)) is None or reporter is None or upload.owner_id != reporter.id
    ]


def _priority(estate: Estate | None, in_progress: bool) -> int:
    if in_progress:
        return Priority.URGENT
    if estate is not None and estate.is_key:
        return Priority.HIGH
    return Priority.NORMAL


def issue_tracking_no(session: Session, now: dt.datetime) -> str:
    """The next tracking number of the day, QPyyyymmdd-nnnn. The counter row's lock (taken by the upsert)
    serialises concurrent submissions until they commit, so no two cases share a number, and a filing
    rolled back gives its number back. An upsert rather than UPDATE-then-INSERT, for the reason
    `backend.db.upsert` gives; one that returns the number it wrote where the database can (MariaDB 10.5+,
    SQLite 3.35+), so that the counter costs one round trip. The statements are built once per dialect."""
    day = _day(now)
    connection = session.connection()
    count, read_back = _counter_statements(connection)
    counted = connection.execute(count, {"day": day})
    if read_back is None:
        number = counted.scalar_one()
    else:  # MySQL: the row read back, under the lock the upsert holds
        number = connection.execute(read_back, {"day": day}).scalar_one()
    return f"QP{day}-{number:04d}"


def _day(now: dt.datetime) -> str:
    """The counter's day: Shanghai's."""
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


def _counter_statements(connection: Connection) -> tuple[Executable, Executable | None]:
    dialect = connection.dialect
    key = (dialect.name, dialect.insert_returning)
    if key not in _COUNTER:
        statement: Any
        if dialect.name in {"mysql", "mariadb"}:
            statement = mysql.insert(TrackingCounter).values(day=bindparam("day"), last=1)
            statement = statement.on_duplicate_key_update(last=TrackingCounter.last + 1)
        else:
            statement = sqlite.insert(TrackingCounter).values(day=bindparam("day"), last=1)
            statement = statement.on_conflict_do_update(
                index_elements=["day"], set_={"last": TrackingCounter.last + 1}
            )
        if dialect.insert_returning:
            _COUNTER[key] = (statement.returning(TrackingCounter.last), None)
        else:
            read_back = select(TrackingCounter.last).where(TrackingCounter.day == bindparam("day"))
            _COUNTER[key] = (statement, read_back)
    return _COUNTER[key]


_COUNTER: dict[tuple[str, bool], tuple[Executable, Executable | None]] = {}


def staff_intake(
    session: Session, actor: Actor, data: ReportInput, *, now: dt.datetime | None = None
) -> Case:
    """A case entered in the console: a transfer from another department (the bureau, or a squad for its own
    town) or a squad's own inspection finding. A squad's case without an estate is in the squad's town."""
    if data.source not in {CaseSource.TRANSFER, CaseSource.INSPECTION}:
        raise ValidationFailed.on("source", "请选择案件来源")
    if actor.role not in SQUAD_ROLES | BUREAU_ROLES:
        raise Forbidden()
    if actor.role in SQUAD_ROLES and data.estate_id is None and actor.squad_id is not None:
        squad = session.get_one(Squad, actor.squad_id)
        data = dataclasses.replace(data, town=squad.town.code)
    if data.source is CaseSource.TRANSFER and not data.source_detail:
        raise ValidationFailed.on("source_detail", "请填写移送部门")
    case, _created = submit_report(session, None, data, now=now)
    if actor.role in SQUAD_ROLES and case.squad_id != actor.squad_id:
        raise Forbidden("只能录入本中队辖区的案件")
    record_audit(
        session, actor, "case.intake", "case", case.tracking_no, detail={"source": data.source.value}, now=now
    )
    return case


def file_property_report(
    session: Session,
    actor: Actor,
    data: ReportInput,
    *,
    photo_ids: Sequence[str] = (),
    note: str = "",
    now: dt.datetime,
) -> Case:
    """A case filed for a property company from a finding of its patrol (物业发现上报, 上海市住宅物业管理规定
    第五十九条): routed, numbered and timed like any report (the on-site clock runs from `now`), without a
    resident reporter. The finding's photos are linked as the company's (PhotoKind.PROPERTY: staff only,
    never shown to a resident). `actor` is the staff member who reported it, or the system when a dissuaded
    finding was not put right in time; which finding it was is the property service's business."""
    if actor.role not in {Role.PROPERTY_STAFF, Role.SYSTEM}:
        raise Forbidden()
    if data.source is not CaseSource.PROPERTY or data.estate_id is None or not data.source_detail:
        raise ValidationFailed.on("source", "物业上报须注明物业服务企业和小区")
    photos = _stored_photos(session, photo_ids)
    case, _created = submit_report(session, None, dataclasses.replace(data, photo_ids=[]), now=now)
    case.photos = [
        CasePhoto(upload_id=p.id, kind=PhotoKind.PROPERTY, position=i) for i, p in enumerate(photos)
    ]
    detail = {"company": data.source_detail, "ref": data.external_ref}
    record_event(
        session, case, "property_report", None, None, actor, note=note, public=False, data=detail, now=now
    )
    record_audit(session, actor, "case.property_report", "case", case.tracking_no, detail=detail, now=now)
    return case


def _stored_photos(session: Session, photo_ids: Sequence[str]) -> list[Upload]:
    """The uploads named, in order (whose they may be is for the caller to have checked)."""
    if len(photo_ids) > MAX_PHOTOS:
        raise ValidationFailed.on("photos", f"最多 {MAX_PHOTOS} 张照片")
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(photo_ids)))}
    if any(photo_id not in uploads for photo_id in photo_ids):
        raise ValidationFailed.on("photos", "照片不存在或已过期，请重新上传")
    return [uploads[p] for p in dict.fromkeys(photo_ids)]
