"""The case exports: the rows and columns a filter selects, the Excel file, personal data and who may export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import backend.stats.exports as exports
from backend.cases.models import Case, CaseSource
from backend.cases.services.life import rate_case, transition
from backend.cases.workflow import Actor, Role
from backend.errors import Forbidden
from backend.org.models import Town
from backend.stats.exports import (
    BOM,
    COLUMNS,
    PERSONAL_COLUMNS,
    export_rows,
    export_scope,
    header,
    write_csv,
    write_xlsx,
)
from backend.stats.filters import StatFilter
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cases import estate, officer, report, squad


def shanghai(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# Each case: when it was reported (Shanghai time), where, what, from where. A and B straddle the start of the
# campaign's first phase and, in UTC, fall on the same day; C and D straddle the change from 全面整治 to 加强执法.
SET = {
    "A": (shanghai(2026, 3, 31, 23, 30), "康虹花园", "illegal_construction", CaseSource.MINI_PROGRAM),
    "B": (shanghai(2026, 4, 1, 0, 10), "康虹花园", "group_rental", CaseSource.HOTLINE),
    "C": (shanghai(2026, 6, 30, 23, 50), "新青浦花苑", "garbage_sorting", CaseSource.PROPERTY),
    "D": (shanghai(2026, 7, 1, 0, 5), "宜达新居", "illegal_construction", CaseSource.MINI_PROGRAM),
    "E": (shanghai(2026, 11, 26, 10, 0), "新华联雅苑", "structural_damage", CaseSource.HOTLINE),
}


@pytest.fixture
def cases(session: Session) -> dict[str, Case]:
    made = {}
    for letter, (when, estate_name, category, source) in SET.items():
        user, _ = make_resident(session, f"export{letter}")
        made[letter] = report(
            session,
            user,
            now=when,
            description=f"案件{letter}：楼顶有人在搭建阳光房，已经搭了一半",
            estate_id=estate(session, estate_name).id,
            category=category,
            source=source,
            contact_phone="13812345678",
            reporter_name=f"反映人{letter}",
            building="12",
            room="甲301",
        )
    return made


def exported(session: Session, cases: dict[str, Case], flt: StatFilter, *, personal: bool = False) -> str:
    """The letters of the test's cases the export holds, in the export's order."""
    letter_of = {case.tracking_no: letter for letter, case in cases.items()}
    rows = export_rows(session, flt, personal=personal, now=shanghai(2026, 12, 1))
    return "".join(letter_of[row[0]] for row in rows if row[0] in letter_of)


def town_id(session: Session, name: str) -> int:
    return session.scalar(select(Town.id).where(Town.name == name))


def test_without_a_filter_every_case_oldest_first(session: Session, cases) -> None:
    assert exported(session, cases, StatFilter()) == "ABCDE"


@pytest.mark.parametrize(
    ("start", "end", "letters"),
    [
        # A is reported on 31 March and B on 1 April in Shanghai, though both on 31 March in UTC
        (dt.date(2026, 3, 31), dt.date(2026, 3, 31), "A"),
        (dt.date(2026, 4, 1), dt.date(2026, 4, 1), "B"),
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30), "BC"),  # both ends included
        (dt.date(2026, 7, 1), None, "DE"),
        (None, dt.date(2026, 6, 30), "ABC"),
    ],
)
def test_a_date_range_is_of_shanghai_days_both_ends_included(
    session: Session, cases, start: dt.date | None, end: dt.date | None, letters: str
) -> None:
    assert exported(session, cases, StatFilter(start=start, end=end)) == letters


@pytest.mark.parametrize(
    ("phases", "start", "end", "letters"),
    [
        (("overhaul",), None, None, "BC"),
        (("enforcement", "review"), None, None, "DE"),
        (("overhaul", "review"), None, None, "BCE"),
        (("overhaul",), dt.date(2026, 6, 30), dt.date(2026, 7, 31), "C"),  # the range clips the phase
        (("enforcement",), dt.date(2026, 1, 1), dt.date(2026, 6, 30), ""),
    ],
)
def test_phases_keep_only_their_days(
    session: Session, cases, phases: tuple[str, ...], start: dt.date | None, end: dt.date | None, letters: str
) -> None:
    assert exported(session, cases, StatFilter(start=start, end=end, phases=phases)) == letters


def test_the_keys_select_their_cases(session: Session, cases) -> None:
    xiayang = town_id(session, "夏阳街道")
    assert exported(session, cases, StatFilter(town_id=xiayang)) == "CD"
    assert exported(session, cases, StatFilter(squad_id=squad(session, "xiayang").id)) == "CD"  # its town
    assert exported(session, cases, StatFilter(squad_id=squad(session, "xujing").id)) == "AB"
    assert exported(session, cases, StatFilter(group="housing_safety")) == "ADE"
    assert exported(session, cases, StatFilter(group="rental")) == "B"
    assert exported(session, cases, StatFilter(category="illegal_construction")) == "AD"
    assert exported(session, cases, StatFilter(source=CaseSource.HOTLINE)) == "BE"
    assert exported(session, cases, StatFilter(town_id=xiayang, category="illegal_construction")) == "D"
    both = StatFilter(town_id=xiayang, squad_id=squad(session, "xujing").id)
    assert exported(session, cases, both) == ""  # keys narrow one another


def test_the_columns_name_the_case_in_chinese(session: Session, cases) -> None:
    rows = list(export_rows(session, StatFilter(category="group_rental"), personal=False, now=SET["B"][0]))
    assert header(personal=False) == COLUMNS and len(rows) == 1
    row = dict(zip(COLUMNS, rows[0], strict=True))
    assert row["工单号"] == cases["B"].tracking_no
    assert (row["来源"], row["类别组"], row["类别"]) == ("12345热线", "房屋违规租赁", "群租")
    assert (row["街镇"], row["中队"], row["小区"], row["状态"]) == (
        "徐泾镇",
        "徐泾中队",
        "康虹花园",
        "已派单",
    )
    assert row["上报时间"] == SET["B"][0] and row["签收期限"] == cases["B"].sign_due_at
    assert row["签收时间"] is None and row["办结时间"] is None
    assert (row["是否超期"], row["满意度"], row["退单次数"], row["公开答复"]) == ("否", "", 0, "")


def test_handling_returns_rating_and_lateness(session: Session, cases) -> None:
    squad_actor = officer(session, "xujing")
    a, b = cases["A"], cases["B"]
    start = SET["A"][0]
    transition(session, a, "return", squad_actor, reason="信息不全", now=start + dt.timedelta(hours=1))
    bureau = Actor(Role.SUPERVISOR, 1, "区局")
    transition(
        session, a, "dispatch", bureau, squad=squad(session, "xujing"), now=start + dt.timedelta(hours=1)
    )
    for step, data in [("sign", {}), ("investigate", {}), ("verify", {})]:
        transition(session, a, step, squad_actor, now=start + dt.timedelta(hours=2), **data)
    transition(session, a, "resolve", squad_actor, public_reply="已拆除", now=start + dt.timedelta(hours=3))
    rate_case(session, a, a.reporter, "satisfied", now=start + dt.timedelta(hours=4))
    transition(session, b, "sign", squad_actor, now=b.sign_due_at + dt.timedelta(hours=1))  # signed late

    def row(letter: str, now: dt.datetime) -> dict:
        flt = StatFilter(start=SET[letter][0].date(), end=SET[letter][0].date())
        return dict(zip(COLUMNS, next(export_rows(session, flt, personal=False, now=now)), strict=True))

    done = row("A", start + dt.timedelta(days=30))
    assert (done["退单次数"], done["满意度"], done["公开答复"], done["是否超期"]) == (
        1,
        "满意",
        "已拆除",
        "否",
    )
    assert done["办结时间"] == start + dt.timedelta(hours=3) and done["状态"] == "已归档"
    assert row("B", b.signed_at)["是否超期"] == "是"
    c_day = SET["C"][0]
    assert row("C", c_day + dt.timedelta(hours=1))["是否超期"] == "否"
    assert row("C", c_day + dt.timedelta(days=30))["是否超期"] == "是"  # a running deadline has passed


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


def test_personal_data_only_when_asked(session: Session, cases) -> None:
    cases["E"].anonymous = True
    out = io.StringIO()
    assert write_csv(session, StatFilter(), out, personal=False) == 5
    rows = csv_rows(out.getvalue())
    assert tuple(rows[0]) == COLUMNS
    assert "13812345678" not in out.getvalue() and "反映人A" not in out.getvalue()
    assert "搭建阳光房" not in out.getvalue() and "甲301" not in out.getvalue()

    out = io.StringIO()
    assert write_csv(session, StatFilter(), out, personal=True) == 5
    rows = csv_rows(out.getvalue())
    assert tuple(rows[0]) == COLUMNS + PERSONAL_COLUMNS
    personal = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert (personal[0]["反映人"], personal[0]["联系电话"], personal[0]["楼号"]) == (
        "反映人A",
        "13812345678",
        "12",
    )
    assert personal[0]["问题描述"].startswith("案件A") and personal[0]["地址"] == "沪青平公路1358弄"
    assert (personal[4]["反映人"], personal[4]["联系电话"]) == ("匿名", "")  # anonymous stays anonymous


def test_csv_writes_times_in_shanghai_and_keeps_formulas_as_text(session: Session, cases) -> None:
    cases["A"].public_reply = '=HYPERLINK("http://evil")'
    out = io.StringIO()
    write_csv(session, StatFilter(end=dt.date(2026, 3, 31)), out, personal=False)
    row = dict(zip(COLUMNS, csv_rows(out.getvalue())[1], strict=True))
    assert row["上报时间"] == "2026-03-31 23:30"
    assert row["公开答复"] == '\'=HYPERLINK("http://evil")'


def test_a_large_export_comes_in_chunks(session: Session, cases, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    chunks = list(exports.csv_chunks(export_rows(session, StatFilter(), personal=False), personal=False))
    assert chunks[0] == BOM + ",".join(COLUMNS) + "\r\n"  # the header alone, before any row is read
    assert [len(csv_rows(BOM + chunk)) for chunk in chunks[1:]] == [2, 2, 1]


def test_the_excel_file_opens_with_the_rows(session: Session, cases, tmp_path) -> None:
    cases["C"].public_reply = "=1+1"
    path = tmp_path / "export.xlsx"
    assert write_xlsx(session, StatFilter(phases=("overhaul",)), path, personal=False) == 2
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == 3
    b, c = (dict(zip(COLUMNS, r, strict=True)) for r in rows[1:])
    assert (b["工单号"], c["工单号"]) == (cases["B"].tracking_no, cases["C"].tracking_no)
    assert b["上报时间"] == dt.datetime(2026, 4, 1, 0, 10)  # Shanghai wall time, as a date Excel can sort
    assert (b["类别"], b["退单次数"], b["签收时间"]) == ("群租", 0, None)
    assert c["公开答复"] == "=1+1"  # a text, not a formula


def test_excel_continues_on_a_new_sheet_when_one_is_full(
    session: Session, cases, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "SHEET_ROWS", 2)
    path = tmp_path / "export.xlsx"
    assert write_xlsx(session, StatFilter(), path, personal=True) == 5
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["工单", "工单2", "工单3"]
    sheets = [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]
    assert all(rows[0] == COLUMNS + PERSONAL_COLUMNS for rows in sheets)
    numbers = [row[0] for rows in sheets for row in rows[1:]]
    assert numbers == [cases[letter].tracking_no for letter in "ABCDE"]


def test_an_empty_excel_export_has_its_header(session: Session, tmp_path) -> None:
    path = tmp_path / "export.xlsx"
    assert (
        write_xlsx(
            session, StatFilter(start=dt.date(2001, 1, 1), end=dt.date(2001, 1, 1)), path, personal=False
        )
        == 0
    )
    assert list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True)) == [COLUMNS]


def test_who_may_export_what(session: Session) -> None:
    xujing, xiayang = squad(session, "xujing"), squad(session, "xiayang")
    bureau = Actor(Role.SUPERVISOR, 1, "区局")
    leader = officer(session, "xujing", Role.SQUAD_LEADER)
    flt = StatFilter(category="group_rental")

    assert export_scope(session, bureau, flt, personal_asked=True) == exports.ExportScope(flt, personal=True)
    assert export_scope(session, bureau, flt, personal_asked=False).personal is False
    # a squad leader: their town, whatever the filter leaves open, and never personal data
    own = export_scope(session, leader, flt, personal_asked=True)
    assert own == exports.ExportScope(replace(flt, town_id=xujing.town_id), personal=False)
    assert export_scope(session, leader, replace(flt, squad_id=xujing.id), personal_asked=False) == own
    for other in (replace(flt, town_id=xiayang.town_id), replace(flt, squad_id=xiayang.id)):
        with pytest.raises(Forbidden):
            export_scope(session, leader, other, personal_asked=False)
    for role in (Role.OFFICER, Role.EDITOR, Role.PROPERTY_STAFF, Role.RESIDENT):
        with pytest.raises(Forbidden):
            export_scope(session, replace(leader, role=role), flt, personal_asked=False)
