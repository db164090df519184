"""The monthly report and the phase summary: which periods they set side by side, their figures on a small set of
cases with known answers, who may read whose, and the watch list they report on."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.errors import Forbidden, ValidationFailed
from backend.org.models import Estate, Squad, Town
from backend.org.services import set_watched
from backend.stats.access import scoped_filter
from backend.stats.figures import Count, Handling, Rate, handling_figures
from backend.stats.filters import StatFilter
from backend.stats.reports import (
    compare_counts,
    handling_lines,
    last_month,
    latest_phase,
    month_of,
    monthly_report,
    phase_before,
    phase_summary,
    which_phase,
)
from tests.support.stats_pages import NOW, build_cases

BUREAU = Actor(Role.SUPERVISOR, 1, "区局")


def town(session: Session, name: str) -> Town:
    return session.scalar(select(Town).where(Town.name == name))


def leader_of(session: Session, code: str, role: Role = Role.SQUAD_LEADER) -> Actor:
    return Actor(role, 2, "队长", squad_id=session.scalar(select(Squad.id).where(Squad.code == code)))


@pytest.fixture
def cases(session: Session):
    return build_cases(session)


# --- which periods ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first"),
    [("2026-11", dt.date(2026, 11, 1)), ("2026-01", dt.date(2026, 1, 1)), ("2000-12", dt.date(2000, 12, 1))],
)
def test_a_month_is_written_year_dash_month(text: str, first: dt.date) -> None:
    assert month_of(text) == first


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "十一月", "", "1999-12"]
)
def test_anything_else_is_refused_in_chinese(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        month_of(text)
    assert refused.value.message == "月份应写作 2026-11 这样的年-月"


@pytest.mark.parametrize(
    ("code", "before"),
    [("overhaul", (2025, "review")), ("enforcement", (2026, "overhaul")), ("review", (2026, "enforcement"))],
)
def test_the_phase_before(code: str, before: tuple[int, str]) -> None:
    assert phase_before(2026, code) == before


@pytest.mark.parametrize(
    ("today", "latest"),
    [
        (dt.date(2026, 3, 31), (2025, "review")),  # January–March: no phase of this year has begun
        (dt.date(2026, 4, 1), (2026, "overhaul")),
        (dt.date(2026, 6, 30), (2026, "overhaul")),
        (dt.date(2026, 7, 1), (2026, "enforcement")),
        (dt.date(2026, 12, 31), (2026, "review")),
    ],
)
def test_the_latest_phase_begun(today: dt.date, latest: tuple[int, str]) -> None:
    assert latest_phase(today) == latest


@pytest.mark.parametrize(
    ("year", "code", "asked"),
    [
        (None, "", (2026, "enforcement")),
        (2026, "", (2026, "enforcement")),
        (2025, "", (2025, "review")),
        (None, "review", (2025, "review")),  # not yet begun this year
        (None, "overhaul", (2026, "overhaul")),
        (2024, "overhaul", (2024, "overhaul")),
    ],
)
def test_a_phase_asked_for_in_part(year: int | None, code: str, asked: tuple[int, str]) -> None:
    assert which_phase(year, code, dt.date(2026, 8, 15)) == asked


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="阶段应为"):
        which_phase(2026, "spring", dt.date(2026, 8, 15))


def test_the_last_whole_month() -> None:
    assert last_month(dt.date(2026, 1, 3)) == dt.date(2025, 12, 1)
    assert last_month(dt.date(2026, 12, 31)) == dt.date(2026, 11, 1)


# --- the figures side by side -------------------------------------------------------------------------------


def test_counts_side_by_side_keep_every_key_the_most_first() -> None:
    rows = compare_counts(
        [[Count("a", "甲", 3), Count("b", "乙", 1)], [Count("b", "乙", 4), Count("c", "丙", 2)]]
    )
    assert [(r.label, r.values, r.changes) for r in rows] == [
        ("甲", [3, 0], ["+3"]),
        ("乙", [1, 4], ["−3"]),
        ("丙", [0, 2], ["−2"]),
    ]


def test_rates_change_in_percentage_points_and_only_when_both_have_one(session: Session, cases) -> None:
    def handling(rated: int, satisfied: int) -> Handling:
        real = handling_figures(session, StatFilter(), NOW)
        return Handling(real.cases, {**real.sums, "rated": rated, "satisfied": satisfied}, real.durations, 0)

    lines = {line.key: line for line in handling_lines([handling(4, 3), handling(5, 2), handling(0, 0)])}
    assert lines["satisfaction"].values == ["75.0%（3/4）", "40.0%（2/5）", "—（0/0）"]
    assert lines["satisfaction"].changes == ["+35个百分点", ""]
    assert Rate(3, 4).percent == "75.0%"


def test_the_monthly_report_of_the_district(session: Session, cases) -> None:
    report = monthly_report(session, dt.date(2026, 11, 1), None, NOW)
    assert report.title == "全区2026年11月月度报告"
    assert [(p.label, p.filter.start, p.filter.end) for p in report.periods] == [
        ("2026年11月", dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        ("2026年10月", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    ]
    lines = {line.key: line for line in report.lines}
    assert lines["cases"].values == ["4", "2"] and lines["cases"].changes == ["+2"]
    # November: nov1 satisfied, nov4 unsatisfied (and so re-handled); October: nobody rated
    assert lines["satisfaction"].values == ["50.0%（1/2）", "—（0/0）"] and lines["satisfaction"].changes == [
        ""
    ]
    assert lines["unsatisfied"].values == ["1", "0"] and lines["rehandled"].values == ["1", "0"]
    # nov2 repeats nov1 at 康虹花园, which repeated oct1
    assert lines["repeat_estate"].values == ["2", "0"]
    assert {r.label: r.values for r in report.by_town} == {
        "徐泾镇": [2, 1],
        "夏阳街道": [1, 1],
        "赵巷镇": [1, 0],
    }
    assert {r.label: r.values for r in report.by_category}["违法搭建"] == [2, 1]
    assert report.board.handling.cases == 4 and report.board.companies is not None
    assert report.partial_until is None


def test_a_towns_monthly_report_and_the_month_under_way(session: Session, cases) -> None:
    xujing = town(session, "徐泾镇")
    report = monthly_report(session, dt.date(2026, 11, 1), xujing.id, NOW)
    assert report.title == "徐泾镇2026年11月月度报告" and report.place == "徐泾镇"
    assert [line.values for line in report.lines if line.key == "cases"] == [["2", "1"]]
    assert report.by_town == [] and report.board.companies is None
    running = monthly_report(session, dt.date(2026, 12, 1), None, NOW)
    assert running.partial_until == dt.date(2026, 12, 3)
    assert running.periods[0].filter.end == dt.date(2026, 12, 3)  # no empty days still to come in the trend
    assert running.periods[1].filter.end == dt.date(2026, 11, 30)


def test_no_report_of_a_month_to_come_or_a_town_that_is_not(session: Session, cases) -> None:
    with pytest.raises(ValidationFailed, match="这个月还没有开始"):
        monthly_report(session, dt.date(2027, 1, 1), None, NOW)
    with pytest.raises(ValidationFailed, match="没有这个街镇"):
        monthly_report(session, dt.date(2026, 11, 1), 999_999, NOW)


def test_the_phase_summary(session: Session, cases) -> None:
    report = phase_summary(session, 2026, "review", None, NOW)
    assert report.title == "全区2026年总结提升阶段总结"
    assert [(p.label, p.filter.start, p.filter.end) for p in report.periods] == [
        ("2026年总结提升", dt.date(2026, 11, 1), dt.date(2026, 12, 3)),
        ("2025年总结提升", dt.date(2025, 11, 1), dt.date(2025, 12, 31)),
        ("2026年加强执法", dt.date(2026, 7, 1), dt.date(2026, 10, 31)),
    ]
    lines = {line.key: line for line in report.lines}
    assert lines["cases"].values == ["5", "1", "3"] and lines["cases"].changes == ["+4", "+2"]
    assert {r.label: r.values for r in report.by_source}["物业上报"] == [1, 0, 1]
    assert report.partial_until == dt.date(2026, 12, 3)
    done = phase_summary(session, 2026, "enforcement", town(session, "夏阳街道").id, NOW)
    assert [line.values for line in done.lines if line.key == "cases"] == [["2", "0", "0"]]
    assert done.partial_until is None
    with pytest.raises(ValidationFailed, match="这个阶段还没有开始"):
        phase_summary(session, 2027, "overhaul", None, NOW)


# --- whose figures ------------------------------------------------------------------------------------------


def test_the_bureau_reads_what_it_asks_for(session: Session) -> None:
    asked = StatFilter(town_id=town(session, "夏阳街道").id, category="group_rental")
    assert scoped_filter(session, BUREAU, asked) == asked
    assert scoped_filter(session, Actor(Role.ADMIN, 1), StatFilter()) == StatFilter()


def test_a_squad_leader_reads_their_own_town_only(session: Session) -> None:
    leader = leader_of(session, "xujing")
    xujing = town(session, "徐泾镇").id
    assert scoped_filter(session, leader, StatFilter(group="rental")) == StatFilter(
        town_id=xujing, group="rental"
    )
    assert scoped_filter(session, leader, StatFilter(squad_id=leader.squad_id)) == StatFilter(town_id=xujing)
    for other in (StatFilter(town_id=town(session, "夏阳街道").id), StatFilter(squad_id=leader.squad_id + 1)):
        with pytest.raises(Forbidden, match="只能查看本中队的统计"):
            scoped_filter(session, leader, other)


@pytest.mark.parametrize("role", [Role.OFFICER, Role.EDITOR, Role.PROPERTY_STAFF, Role.RESIDENT])
def test_nobody_else_reads_statistics(session: Session, role: Role) -> None:
    with pytest.raises(Forbidden, match="您没有权限查看统计"):
        scoped_filter(session, leader_of(session, "xujing", role), StatFilter())


# --- the watch list -----------------------------------------------------------------------------------------


def test_the_watch_list_changes_audited_once_and_only_by_the_bureau(session: Session, cases) -> None:
    estate = Estate(name="观察小区", town=town(session, "赵巷镇"), address="", is_key=False)
    session.add(estate)
    session.flush()
    assert set_watched(session, estate, True, BUREAU, NOW, ip="10.0.0.1") is True
    assert set_watched(session, estate, True, BUREAU, NOW) is False
    report = monthly_report(session, dt.date(2026, 11, 1), None, NOW)
    assert "观察小区（赵巷镇）" in [row.label for row in report.board.watch]
    assert set_watched(session, estate, False, BUREAU, NOW) is True
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.target_type == "estate", AuditEntry.target_id == str(estate.id))
    ).all()
    assert [(e.action, e.ip, e.detail["name"]) for e in entries] == [
        ("estate.watch", "10.0.0.1", "观察小区"),
        ("estate.unwatch", "", "观察小区"),
    ]
    with pytest.raises(Forbidden):
        set_watched(session, estate, True, leader_of(session, "zhaoxiang"), NOW)
    assert estate.is_key is False
