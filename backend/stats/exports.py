"""Exports of cases with the filters applied, as CSV or Excel, streamed row by row.

The rows are read with one Core select of only the columns written, streamed from the database in batches
(`yield_per`), and written as they come: a CSV in chunks of a few hundred rows, an Excel workbook with
XlsxWriter in constant-memory mode, so the memory stays flat whatever the number of rows. Personal data (the
reporter's name and phone, the address, the description, which may name people) is written only when the
caller asks for it and their role allows it, and such an export is audited as a sensitive read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import xlsxwriter
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from backend.audit.services import record_audit
from backend.cases.models import SOURCE_LABELS, Case, CaseEvent
from backend.cases.services.timeline import RATING_LABELS
from backend.cases.workflow import BUREAU_ROLES, STATUS_LABELS, TIMED, Actor, Role
from backend.db import utcnow
from backend.errors import Forbidden
from backend.org.models import Estate, Squad, Town
from backend.stats.access import scoped_filter
from backend.stats.filters import StatFilter
from backend.stats.selection import case_conditions
from backend.taxonomy.models import Category, CategoryGroup
from backend.workcalendar import SHANGHAI

COLUMNS: tuple[str, ...] = (
    "工单号",
    "来源",
    "类别组",
    "类别",
    "街镇",
    "中队",
    "小区",
    "状态",
    "上报时间",
    "签收时间",
    "到场时间",
    "办结时间",
    "签收期限",
    "办结期限",
    "是否超期",
    "满意度",
    "退单次数",
    "公开答复",
)
TIMES = (COLUMNS.index("上报时间"), COLUMNS.index("办结期限"))  # the first and last of the columns of times
# Only for the bureau, and only when asked: who reported, how to reach them, and where exactly.
PERSONAL_COLUMNS: tuple[str, ...] = ("反映人", "联系电话", "地址", "楼号", "单元", "室号", "问题描述")

EXPORTERS = (Role.SUPERVISOR, Role.ADMIN, Role.SQUAD_LEADER)  # who may export at all (see export_scope)
FETCH_ROWS = 1000  # rows fetched from the database at a time
CHUNK_ROWS = 500  # CSV rows sent to the client at a time
BOM = "\ufeff"  # Excel as installed in China reads a CSV without it as GBK and garbles the Chinese
# An Excel sheet holds 1,048,576 rows; the header takes one, and the rows go on in a new sheet after that.
SHEET_ROWS = 1_048_575
# A text cell starting with one of these is a formula to a spreadsheet (CSV injection): a resident's
# description must stay text, so such a cell gets a leading apostrophe, which Excel does not show.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | dt.datetime | None


@dataclass(frozen=True)
class ExportScope:
    """What an export may contain: the filter narrowed to the actor's cases, and whether personal data goes in."""

    filter: StatFilter
    personal: bool


def export_scope(session: Session, actor: Actor, flt: StatFilter, *, personal_asked: bool) -> ExportScope:
    """The bureau exports any cases, with personal data when it asks; a squad leader only their squad's
    town (whatever the filter says), never with personal data. Forbidden for anyone else, or for a squad
    leader asking for another town or squad (backend.stats.access, as for every statistic)."""
    try:
        scoped = scoped_filter(session, actor, flt)
    except Forbidden:
        raise Forbidden(
            "只能导出本中队的工单" if actor.role is Role.SQUAD_LEADER else "您没有权限导出工单"
        ) from None
    return ExportScope(scoped, personal=personal_asked and actor.role in BUREAU_ROLES)


def record_export(
    session: Session,
    actor: Actor,
    scope: ExportScope,
    kind: str,
    *,
    rows: int | None = None,
    ip: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Put the export on the audit trail: the filter (also as the entry's target, so the audit page shows
    what was taken), the format, and the row count when it is known before the file leaves."""
    query = "&".join(f"{key}={value}" for key, value in scope.filter.as_query().items())
    detail: dict[str, Any] = {"format": kind, "filter": scope.filter.as_query(), "personal": scope.personal}
    if rows is not None:
        detail["rows"] = rows
    target = query[:64] or "全部"
    if scope.personal:
        record_audit(
            session, actor, "case.export_personal", "case_export", target, detail=detail, ip=ip, now=now
        )
    else:
        record_audit(session, actor, "case.export", "case_export", target, detail=detail, ip=ip, now=now)


def header(*, personal: bool) -> tuple[str, ...]:
    return COLUMNS + PERSONAL_COLUMNS if personal else COLUMNS


def export_rows(
    session: Session, flt: StatFilter, *, personal: bool, now: dt.datetime | None = None
) -> Iterator[tuple[Cell, ...]]:
    """The cases the filter selects, oldest first, one tuple of cells per case in the order of `header`;
    times are Shanghai time. The rows are fetched in batches, so a caller that writes each as it comes
    holds only a batch."""
    moment = now or utcnow()
    statement = _statement(session, flt, personal=personal)
    result = session.execute(statement, execution_options={"yield_per": FETCH_ROWS})
    try:
        for row in result:
            yield _cells(row, moment, personal=personal)
    finally:
        # a client that stops reading leaves the cursor open otherwise, and the session unusable after it
        result.close()


def csv_header(*, personal: bool) -> str:
    """The CSV's first line, after the BOM."""
    buffer = io.StringIO()
    buffer.write(BOM)
    csv.writer(buffer).writerow(header(personal=personal))
    return buffer.getvalue()


def csv_body(rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV text of `rows`, CHUNK_ROWS rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, row in enumerate(rows, 1):
        writer.writerow([_csv_text(cell) for cell in row])
        if number % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def csv_chunks(rows: Iterable[Sequence[Cell]], *, personal: bool) -> Iterator[str]:
    """The whole CSV in chunks: the BOM and the header, then the rows."""
    yield csv_header(personal=personal)
    yield from csv_body(rows)


def write_csv(
    session: Session, flt: StatFilter, out: IO[str], *, personal: bool, now: dt.datetime | None = None
) -> int:
    """Write the export as CSV (with its BOM) to `out`, chunk by chunk; the number of rows written."""
    counted = _Counted(export_rows(session, flt, personal=personal, now=now))
    for chunk in csv_chunks(counted, personal=personal):
        out.write(chunk)
    return counted.count


def write_xlsx(
    session: Session,
    flt: StatFilter,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    personal: bool,
    now: dt.datetime | None = None,
) -> int:
    """Write the export as an Excel workbook to `target` (a path or a binary file), one row at a time in
    XlsxWriter's constant-memory mode; the number of rows written."""
    options = {
        "constant_memory": True,  # each row goes to disk once the next begins
        # a resident's text stays text: never a formula, a link or a number
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    workbook = xlsxwriter.Workbook(
        os.fspath(target) if isinstance(target, str | os.PathLike) else target, options
    )
    try:
        sheets = _Sheets(workbook, header(personal=personal))
        for row in export_rows(session, flt, personal=personal, now=now):
            sheets.write(row)
    finally:
        workbook.close()
    return sheets.count


# ------------------------------------------------------------------------------------------- the query


def _statement(session: Session, flt: StatFilter, *, personal: bool) -> Select[Any]:
    returns = (
        select(func.count(CaseEvent.id))
        .where(CaseEvent.case_id == Case.id, CaseEvent.action == "return")
        .correlate(Case)
        .scalar_subquery()
    )
    columns: list[Any] = [
        Case.tracking_no,
        Case.source,
        CategoryGroup.name.label("group_name"),
        Category.name.label("category_name"),
        Town.name.label("town_name"),
        Squad.name.label("squad_name"),
        Estate.name.label("estate_name"),
        Case.status,
        Case.created_at,
        Case.signed_at,
        Case.onsite_at,
        Case.resolved_at,
        Case.sign_due_at,
        Case.onsite_due_at,
        Case.handle_due_at,
        Case.next_due_at,
        Case.rating,
        returns.label("returns"),
        Case.public_reply,
    ]
    if personal:
        columns += [
            Case.anonymous,
            Case.reporter_name,
            Case.contact_phone,
            Case.address,
            Case.building,
            Case.unit,
            Case.room,
            Case.description,
        ]
    return (
        select(*columns)
        .select_from(Case)
        .outerjoin(Category, Case.category_code == Category.code)
        .outerjoin(CategoryGroup, Category.group_code == CategoryGroup.code)
        .outerjoin(Town, Case.town_id == Town.id)
        .outerjoin(Squad, Case.squad_id == Squad.id)
        .outerjoin(Estate, Case.estate_id == Estate.id)
        .where(*case_conditions(session, flt))
        .order_by(Case.created_at, Case.id)
    )


# ------------------------------------------------------------------------------------------ the cells


def _cells(row: Row[Any], now: dt.datetime, *, personal: bool) -> tuple[Cell, ...]:
    cells: tuple[Cell, ...] = (
        row.tracking_no,
        SOURCE_LABELS.get(row.source, row.source),
        row.group_name or "",
        row.category_name or "待确认",
        row.town_name or "",
        row.squad_name or "",
        row.estate_name or "",
        STATUS_LABELS.get(row.status, row.status),
        _local(row.created_at),
        _local(row.signed_at),
        _local(row.onsite_at),
        _local(row.resolved_at),
        _local(row.sign_due_at),
        _local(row.handle_due_at),
        "是" if _overdue(row, now) else "否",
        RATING_LABELS.get(row.rating or "", ""),
        row.returns,
        row.public_reply,
    )
    if not personal:
        return cells
    # an anonymous reporter stays anonymous, even to the bureau
    name, phone = ("匿名", "") if row.anonymous else (row.reporter_name, row.contact_phone or "")
    return (*cells, name, phone, row.address, row.building, row.unit, row.room, row.description)


def _overdue(row: Row[Any], now: dt.datetime) -> bool:
    """A deadline was missed: signed, on site or resolved after it, or one still running has passed."""
    late = (
        _after(row.signed_at, row.sign_due_at)
        or _after(row.onsite_at, row.onsite_due_at)
        or _after(row.resolved_at, row.handle_due_at)
    )
    running_passed = row.status in TIMED and row.next_due_at is not None and row.next_due_at <= now
    return late or running_passed


def _after(done: dt.datetime | None, due: dt.datetime | None) -> bool:
    return done is not None and due is not None and done > due


def _local(instant: dt.datetime | None) -> dt.datetime | None:
    return instant.astimezone(SHANGHAI) if instant is not None else None


def _csv_text(cell: Cell) -> str | int:
    if cell is None:
        return ""
    if isinstance(cell, dt.datetime):
        return cell.strftime("%Y-%m-%d %H:%M")
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class _Counted:
    """Passes rows through and counts them."""

    def __init__(self, rows: Iterable[Sequence[Cell]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[Cell]]:
        for row in self.rows:
            self.count += 1
            yield row


class _Sheets:
    """Rows written in order to the workbook's sheets, a new sheet (with the header) when one is full."""

    def __init__(self, workbook: xlsxwriter.Workbook, names: Sequence[str]) -> None:
        self.workbook = workbook
        self.names = names
        self.bold = workbook.add_format({"bold": True})
        self.time = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.count = 0
        self._new_sheet()  # an empty export still has its header

    def write(self, cells: Sequence[Cell]) -> None:
        if self.row >= SHEET_ROWS:
            self._new_sheet()
        self.row += 1
        self.count += 1
        for column, cell in enumerate(cells):
            self._write_cell(column, cell)

    def _new_sheet(self) -> None:
        number = len(self.workbook.worksheets()) + 1
        self.sheet = self.workbook.add_worksheet("工单" if number == 1 else f"工单{number}")
        self.sheet.freeze_panes(1, 0)
        self.sheet.set_column(0, len(self.names) - 1, 14)
        self.sheet.set_column(TIMES[0], TIMES[1], 17, self.time)
        for column, name in enumerate(self.names):
            self.sheet.write_string(0, column, name, self.bold)
        self.row = 0

    def _write_cell(self, column: int, cell: Cell) -> None:
        if cell is None or cell == "":
            return  # blank: nothing to write, and constant-memory mode keeps the row short
        if isinstance(cell, dt.datetime):
            # Excel has no time zones: the Shanghai wall time is what a reader expects to see
            self.sheet.write_datetime(self.row, column, cell.replace(tzinfo=None), self.time)
        elif isinstance(cell, int):
            self.sheet.write_number(self.row, column, cell)
        else:
            self.sheet.write_string(self.row, column, cell)
