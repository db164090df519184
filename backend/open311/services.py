"""GeoReport v2 read side: our categories as services, our cases as requests, with no personal data.

What a request publishes is chosen here, column by column: the category, the status as open or closed, the
squad, the town and the estate, the dates and the public reply with phone numbers, flats and the caller's name
masked. Nothing else of a case is read: not the description, the building, unit or room, the coordinates of a
flat, the photos, nor anything of the reporter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from backend.cases.models import Case, CaseStatus
from backend.cases.workflow import OPEN
from backend.errors import NotFound, ValidationFailed
from backend.org.models import Estate, Squad, Town
from backend.taxonomy.models import Category, CategoryGroup
from backend.workcalendar import SHANGHAI

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
BUREAU = "青浦区城市管理行政执法局"
# When the list of services or their definitions last changed (the discovery's changeset, which tells clients
# to refresh what they cached): move it when content/taxonomy.toml adds, renames or regroups a category.
SERVICES_CHANGESET = dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)

# Cases about a property company's own conduct (物业未履职尽责: property_negligence, property_duty_violation)
# are not published: each names, through its estate, one company, before anybody has checked the accusation,
# and many come from the squads' own cross-check rather than from a resident (README: Open data). Categories
# outside every group (out_of_scope) are not the campaign's matters and are not published either.
UNPUBLISHED_GROUPS = frozenset({"property_duty"})

# Every status is one of three: published as open, published as closed, or not published at all (a withdrawn
# report was never meant to be handled; a merged one lives on as its parent). A new status is not published
# until it is put here.
OPEN_STATUSES = frozenset(OPEN)
CLOSED_STATUSES = frozenset({CaseStatus.UNFOUNDED, CaseStatus.RESOLVED, CaseStatus.CLOSED})
UNPUBLISHED_STATUSES = frozenset({CaseStatus.WITHDRAWN, CaseStatus.MERGED})
STATUS_KINDS = ("open", "closed")

DEFAULT_DAYS = 90  # the spec: the most recent 90 days when no dates are given, and no wider a range
MAX_REQUESTS = 1000  # the spec: at most 1000 requests in one answer
MAX_IDS = 100  # service_request_id=a,b,c …: as many numbers as a URL comfortably carries

# What a public reply must not carry, whoever typed it: a phone number, a flat (12号楼、3单元、302室), and the
# name a hotline caller gave. The reply is written for the reporter; open data is for everybody.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_FLAT_IN_TEXT = re.compile(r"\d+\s*[A-Za-z]?\s*(?:号楼|号房|幢|栋|单元|室)")
MASK = "**"


@dataclass(frozen=True)
class OpenService:
    """A category as a GeoReport service."""

    service_code: str
    service_name: str
    description: str
    keywords: tuple[str, ...]
    group: str


@dataclass(frozen=True)
class OpenRequest:
    """A case as a GeoReport service request: only what may be published."""

    service_request_id: str
    status: str  # open or closed
    status_notes: str | None
    service_name: str
    service_code: str
    agency_responsible: str
    requested_datetime: dt.datetime
    updated_datetime: dt.datetime
    expected_datetime: dt.datetime | None
    address: str | None


@dataclass(frozen=True)
class Endpoint:
    specification: str
    url: str
    changeset: dt.datetime
    type: str
    formats: tuple[str, ...]


@dataclass(frozen=True)
class Discovery:
    changeset: dt.datetime
    contact: str
    key_service: str
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class RequestQuery:
    """A search of requests: reported between `start` and `end` (both included), of some services and
    statuses (none: all), one page of them; or, when `ids` is given, those requests whatever the rest says."""

    start: dt.datetime
    end: dt.datetime
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    page: int = 1
    page_size: int = MAX_REQUESTS


def describe_endpoint(base_url: str, *, production: bool) -> Discovery:
    """The service discovery document of the endpoint at `base_url` (…/open311/v2)."""
    endpoint = Endpoint(
        specification=SPECIFICATION,
        url=base_url,
        changeset=SERVICES_CHANGESET,
        type="production" if production else "test",
        formats=("text/xml", "application/json"),
    )
    return Discovery(
        changeset=SERVICES_CHANGESET,
        contact=f"{BUREAU}；市民诉求请拨打 12345 或使用“青浦城管进社区”小程序",
        key_service="只读接口，无需密钥；暂不支持通过本接口提交诉求",
        endpoints=(endpoint,),
    )


def _published_categories() -> Select[Category]:
    return (
        select(Category)
        .join(CategoryGroup, CategoryGroup.code == Category.group_code)
        .where(CategoryGroup.code.not_in(UNPUBLISHED_GROUPS))
    )


def _as_service(category: Category) -> OpenService:
    return OpenService(
        service_code=category.code,
        service_name=category.name,
        description=category.description,
        keywords=tuple(k.keyword for k in category.keywords),
        group=category.group.name if category.group else "",
    )


def list_services(session: Session) -> list[OpenService]:
    """The categories the public may read about, in the taxonomy's order."""
    categories = session.scalars(
        _published_categories()
        .options(selectinload(Category.keywords), selectinload(Category.group))
        .order_by(CategoryGroup.position, Category.position)
    )
    return [_as_service(category) for category in categories]


def get_service(session: Session, service_code: str) -> OpenService:
    """One published category; NotFound for any other code."""
    category = session.scalar(
        _published_categories()
        .where(Category.code == service_code)
        .options(selectinload(Category.keywords), selectinload(Category.group))
    )
    if category is None:
        raise NotFound("没有这项服务", code="service_not_found")
    return _as_service(category)


def _published_cases() -> Select:
    # Columns, not the Case entity: what is not selected here cannot end up in a response.
    return (
        select(
            Case.tracking_no,
            Case.status,
            Case.public_reply,
            Case.reporter_name,  # read only to mask it in the reply; never published
            Case.category_code,
            Category.name.label("service_name"),
            Squad.name.label("squad_name"),
            Town.name.label("town_name"),
            Estate.name.label("estate_name"),
            Case.created_at,
            Case.updated_at,
            Case.handle_due_at,
        )
        .join(Category, Category.code == Case.category_code)
        .join(CategoryGroup, CategoryGroup.code == Category.group_code)
        .outerjoin(Squad, Squad.id == Case.squad_id)
        .outerjoin(Town, Town.id == Case.town_id)
        .outerjoin(Estate, Estate.id == Case.estate_id)
        .where(
            CategoryGroup.code.not_in(UNPUBLISHED_GROUPS),
            Case.status.in_([s.value for s in OPEN_STATUSES | CLOSED_STATUSES]),
        )
    )


def mask_reply(reply: str, reporter_name: str = "") -> str:
    """The public reply fit for everybody: phone numbers, flats and the caller's name masked."""
    text = _PHONE_IN_TEXT.sub(MASK, reply)
    text = _FLAT_IN_TEXT.sub(MASK, text)
    name = reporter_name.strip()
    if len(name) >= 2:  # one character (王) would mask every 王 in the text
        text = text.replace(name, MASK)
    return text


def _as_request(row: Mapping) -> OpenRequest:
    is_open = CaseStatus(row["status"]) in OPEN_STATUSES
    place = [part for part in (row["town_name"], row["estate_name"]) if part]
    reply = mask_reply(row["public_reply"] or "", row["reporter_name"] or "")
    return OpenRequest(
        service_request_id=row["tracking_no"],
        status="open" if is_open else "closed",
        status_notes=reply or None,
        service_name=row["service_name"],
        service_code=row["category_code"],
        agency_responsible=row["squad_name"] or BUREAU,  # without a squad the bureau is triaging it
        requested_datetime=row["created_at"],
        updated_datetime=row["updated_at"],
        # the handling deadline: when the squad should have it done (moved by an approved extension)
        expected_datetime=row["handle_due_at"] if is_open else None,
        address=" ".join(place) or None,
    )


def find_requests(session: Session, query: RequestQuery) -> list[OpenRequest]:
    """The published requests `query` asks for, newest first. A service code that is not published is
    refused (400), so that a typing mistake is not read as "no such requests"."""
    statement = _published_cases()
    if query.ids:
        statement = statement.where(Case.tracking_no.in_(query.ids))
    else:
        statement = statement.where(Case.created_at >= query.start, Case.created_at <= query.end)
        if query.service_codes:
            _check_service_codes(session, query.service_codes)
            statement = statement.where(Case.category_code.in_(query.service_codes))
        if query.statuses:
            wanted = OPEN_STATUSES if "open" in query.statuses else frozenset()
            wanted |= CLOSED_STATUSES if "closed" in query.statuses else frozenset()
            statement = statement.where(Case.status.in_([s.value for s in wanted]))
    statement = (
        statement.order_by(Case.created_at.desc(), Case.id.desc())
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    )
    return [_as_request(row) for row in session.execute(statement).mappings()]


def _check_service_codes(session: Session, codes: tuple[str, ...]) -> None:
    known = set(session.scalars(_published_categories().with_only_columns(Category.code)))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValidationFailed.on("service_code", f"没有这项服务：{'、'.join(unknown[:5])[:100]}")


def get_request(session: Session, service_request_id: str) -> OpenRequest:
    """One published request by its tracking number; NotFound for anything not published."""
    row = session.execute(_published_cases().where(Case.tracking_no == service_request_id)).mappings().first()
    if row is None:
        raise NotFound("没有这条公开的诉求", code="request_not_found")
    return _as_request(row)


# ---------------------------------------------------------------- the query string of GET requests


def parse_request_query(args: Mapping[str, str | None], *, now: dt.datetime) -> RequestQuery:
    """GET requests' parameters as the spec reads them (400 in Chinese for what cannot be read): dates in
    W3C format; without them the most recent 90 days; a range no wider than 90 days; lists comma-separated."""
    start, end = _window(
        _instant("start_date", args.get("start_date"), end_of_day=False),
        _instant("end_date", args.get("end_date"), end_of_day=True),
        now,
    )
    return RequestQuery(
        start=start,
        end=end,
        service_codes=_listed(args.get("service_code")),
        statuses=_statuses(args.get("status")),
        ids=_listed(args.get("service_request_id"))[:MAX_IDS],
        page=_whole_number("page", args.get("page"), default=1, maximum=100_000),
        page_size=_whole_number(
            "page_size", args.get("page_size"), default=MAX_REQUESTS, maximum=MAX_REQUESTS
        ),
    )


def _listed(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))


def _statuses(text: str | None) -> tuple[str, ...]:
    statuses = _listed(text)
    if any(status not in STATUS_KINDS for status in statuses):
        raise ValidationFailed.on("status", "应为 open（办理中）或 closed（已办结），可用逗号分隔")
    return statuses


def _whole_number(name: str, text: str | None, *, default: int, maximum: int) -> int:
    if text is None or not text.strip():
        return default
    value = text.strip()
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise ValidationFailed.on(name, f"应为 1 到 {maximum} 之间的整数")
    return int(value)


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_MESSAGE = "应为 W3C 日期时间，如 2026-11-01T00:00:00+08:00 或 2026-11-01T00:00:00Z"


def _instant(name: str, text: str | None, *, end_of_day: bool) -> dt.datetime | None:
    """A W3C datetime; one without an offset is read in Shanghai time, and a bare date as the start of that
    day (or, for end_date, its end)."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if _DATE_ONLY.match(value):
            day = dt.date.fromisoformat(value)
            instant = dt.datetime.combine(day + dt.timedelta(days=end_of_day), dt.time(), SHANGHAI)
            return instant - dt.timedelta(microseconds=1) if end_of_day else instant
        if "T" not in value.upper():
            raise ValueError(value)
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.on(name, _DATE_MESSAGE) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=SHANGHAI)


def _window(
    start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    span = dt.timedelta(days=DEFAULT_DAYS)
    if start is None and end is None:
        return now - span, now
    if start is None:
        assert end is not None
        return end - span, end
    if end is None:
        return start, start + span
    if start > end:
        raise ValidationFailed.on("start_date", "开始时间不能晚于结束时间")
    if end - start > span:
        raise ValidationFailed.on("end_date", f"起止时间相隔不能超过 {DEFAULT_DAYS} 天")
    return start, end
