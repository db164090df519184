"""Rules of the 12345 hotline: its clients and their keys, and work orders becoming cases, once each."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, Field, StrictBool, ValidationError, field_validator
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from backend.cases.services.filing import ReportInput, submit_report
from backend.db import as_loaded
from backend.errors import (
    AppError,
    Conflict,
    PlainText,
    Unauthorized,
    ValidationFailed,
    explain_pattern,
    field_errors,
)
from backend.hotline.models import HotlineClient
from backend.org.services import EstateEntry, TownEntry, estate_index
from backend.taxonomy.services import InScopeCategory
from backend.text import PHONE_PATTERN, Description, normalise_text

KEY_BYTES = 32
ORDER_NO = explain_pattern(r"^[A-Za-z0-9-]+$", "应为 12345 工单号，只含字母、数字和连字符")
NO_ADDRESS = "（工单未注明地址）"
ADDRESS_MAX = 255

# ---------------------------------------------------------------------------------------------- clients


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_client(session: Session, name: str) -> tuple[HotlineClient, str]:
    """Register a system allowed to push work orders. Returns the client and its API key: only the key's
    SHA-256 is stored, so this is the one time anybody sees the key."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationFailed.on("name", "名称应为 1–64 个字符", description="name: 1 to 64 characters")
    if session.scalar(select(HotlineClient.id).where(HotlineClient.name == name)) is not None:
        raise Conflict(f"已有名为「{name}」的热线接入方", code="hotline_client_exists")
    key = secrets.token_urlsafe(KEY_BYTES)
    client = HotlineClient(name=name, key_hash=_hash(key), active=True)
    session.add(client)
    session.flush()
    return client, key


def authenticate_client(session: Session, key: str) -> HotlineClient:
    """The active client an API key belongs to; Unauthorized otherwise. The key itself is never logged. Read
    through Core with a statement built once: the ORM's query layer costs more than the read."""
    row = session.execute(_CLIENT_BY_KEY, {"key_hash": _hash(key)}).mappings().one_or_none() if key else None
    if row is None or not row["active"]:
        raise Unauthorized("接口密钥无效或已停用", code="invalid_api_key")
    return as_loaded(session, HotlineClient, row)


_CLIENT_BY_KEY = select(*HotlineClient.__table__.columns).where(
    HotlineClient.key_hash == bindparam("key_hash")
)


# ----------------------------------------------------------------------------------------------- orders


class HotlineOrder(PlainText):
    """A 12345 work order as a hotline system sends it (the JSON body of the API, a row of an import)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_no: str = Field(
        min_length=4, max_length=40, pattern=ORDER_NO, description="12345 工单号（字母、数字和 -）"
    )
    content: Description = Field(min_length=10, max_length=2000, description="诉求内容，10–2000 字")
    address: str | None = Field(None, max_length=255, description="事发地址")
    town: str | None = Field(None, max_length=32, description="街镇代码或名称，如 xujing、徐泾镇 或 徐泾")
    estate: str | None = Field(None, max_length=128, description="小区名称或别名")
    category: InScopeCategory | None = Field(None, description="问题类别代码；不填时由系统推荐并待确认")
    caller_name: str | None = Field(None, max_length=64, description="来电人姓名（仅办理人员可见）")
    caller_phone: str | None = Field(None, pattern=PHONE_PATTERN, description="来电人电话（仅办理人员可见）")
    received_at: dt.datetime | None = Field(
        None, description="热线受理时间，须带时区，如 2024-05-06T09:30:00+08:00"
    )
    in_progress: StrictBool | None = Field(
        None, description="是否正在施工（到场时限 2 小时）；不填时由系统根据诉求内容判断"
    )

    @field_validator("address", "town", "estate", "category", "caller_name", "caller_phone", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # runs before PlainText's normalisation: a field of zero-width spaces is blank too
        return None if isinstance(value, str) and not normalise_text(value) else value

    @field_validator("order_no", mode="after")
    @classmethod
    def _one_spelling(cls, value: str) -> str:
        # MariaDB compares case-insensitively and SQLite does not: one spelling keeps "the same order is one
        # case" true on both
        return value.upper()

    @field_validator("received_at", mode="before")
    @classmethod
    def _aware_instant(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if value is None or isinstance(value, dt.datetime):
            instant = value
        elif isinstance(value, str):
            try:
                instant = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("应为 ISO 8601 日期时间，如 2024-05-06T09:30:00+08:00") from None
        else:
            raise ValueError("应为 ISO 8601 日期时间文本")
        if instant is None:
            return None
        if instant.utcoffset() is None:
            raise ValueError("须注明时区，如 2024-05-06T09:30:00+08:00")
        try:
            return instant.astimezone(dt.UTC)  # an instant at year 1 or 9999 may not exist in UTC
        except OverflowError:
            raise ValueError("日期时间超出范围") from None


def intake_order(
    session: Session, order: HotlineOrder, *, client_name: str, now: dt.datetime
) -> tuple[Case, bool]:
    """File a work order as a case: returns the case and whether it is new. The same order number is one
    case, however often and however concurrently it is sent. The order is routed by its estate (name or
    alias, within its town when the town is known), else by its town; with neither it waits in triage."""
    existing = _case_of_order(session, order.order_no)
    if existing is not None:
        return existing, False
    index = estate_index(session)  # kept per process: no query while the estates are unchanged
    town = index.find_town(order.town) if order.town else None
    estate = index.find_estate(order.estate, town.id if town is not None else None) if order.estate else None
    data = ReportInput(
        description=order.content,
        category=order.category,
        estate_id=estate.id if estate is not None else None,
        address=_address(order, town, estate),
        town=town.code if town is not None and estate is None else None,
        in_progress=order.in_progress,
        contact_phone=order.caller_phone,
        source=CaseSource.HOTLINE,
        external_ref=order.order_no,
        source_detail=f"12345（{client_name}）",
        reporter_name=order.caller_name or "",
        received_at=order.received_at,
    )
    try:
        case, created = submit_report(session, None, data, now=now)
    except IntegrityError:
        # the same order raced in from another request or import: answer with the case that won. Nothing of
        # this one was written and its number was given back (backend.cases.services.filing)
        existing = _case_of_order(session, order.order_no, latest=True)
        if existing is None:
            raise
        return existing, False
    return case, created


def _case_of_order(session: Session, order_no: str, *, latest: bool = False) -> Case | None:
    if latest:
        # a locking read sees the row another transaction committed, past our snapshot
        return session.scalar(
            select(Case)
            .where(Case.source == CaseSource.HOTLINE, Case.external_ref == order_no)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        )
    # asked of every order and nearly always none: its id only, through Core, with a statement built once
    # (a case's fifty columns cost more to describe than the read), the case loaded when there is one
    case_id = session.execute(_CASE_OF_ORDER, {"order_no": order_no}).scalar()
    return session.get(Case, case_id) if case_id is not None else None


_CASE_OF_ORDER = select(Case.id).where(
    Case.source == CaseSource.HOTLINE, Case.external_ref == bindparam("order_no")
)


def _address(order: HotlineOrder, town: TownEntry | None, estate: EstateEntry | None) -> str:
    """The order's address, keeping the town and estate it named but we could not resolve."""
    given = order.address or ""
    # a town we could not read still says where to look, unless the estate already does
    unresolved = [order.town] if order.town and town is None and estate is None else []
    if order.estate and estate is None:
        unresolved.append(order.estate)
    unresolved = [text for text in unresolved if text not in given]
    address = " ".join([*unresolved, given]).strip()
    if not address and estate is None:
        address = town.name if town is not None else NO_ADDRESS
    return address[:ADDRESS_MAX]


# ----------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class UnreadableRow:
    """A row a file reader could not parse (say, a JSON Lines line that is not JSON); skipped with `reason`."""

    reason: str


@dataclass
class ImportReport:
    """What an import of work orders did; skipped rows by number, with the reason."""

    added: int = 0
    already_known: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"added {self.added}, already known {self.already_known}, skipped {len(self.skipped)}"

    def include(self, other: ImportReport) -> None:
        self.added += other.added
        self.already_known += other.already_known
        self.skipped.extend(other.skipped)


_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否", ""}


def import_orders(
    session: Session,
    rows: Iterable[tuple[int, Mapping[str, Any] | UnreadableRow]],
    *,
    client_name: str,
    now: dt.datetime,
) -> ImportReport:
    """File work orders from a file's rows, each with its number in the file (a line, or an item of a JSON
    list). CSV cells are text, JSON values may be typed: a blank cell or a null is an absent value, and
    in_progress may also be written true/false, 1/0, yes/no or 是/否. Idempotent: a known order number is
    counted, not filed again."""
    report = ImportReport()
    for number, row in rows:
        if isinstance(row, UnreadableRow):
            report.skipped.append((number, row.reason))
            continue
        if not isinstance(row, Mapping):
            report.skipped.append((number, '应为一个对象，如 {"order_no": …, "content": …}'))
            continue
        try:
            order = HotlineOrder.model_validate(_from_file(row))
        except ValidationError as exc:
            report.skipped.append((number, "; ".join(f"{e.field}: {e.message}" for e in field_errors(exc))))
            continue
        try:
            _case, created = intake_order(session, order, client_name=client_name, now=now)
        except AppError as exc:
            report.skipped.append((number, exc.description or exc.message))
            continue
        if created:
            report.added += 1
        else:
            report.already_known += 1
    return report


def _from_file(row: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: value for key, value in row.items() if value is not None and value != ""}
    progress = values.get("in_progress")
    if isinstance(progress, str):
        word = progress.strip().lower()
        if word in _TRUE:
            values["in_progress"] = True
        elif word in _FALSE:
            values["in_progress"] = False
    return values
