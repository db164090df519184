"""Every figure on five hand-built cases whose right answers are worked out below, including a case reported
at 00:10 on 1 July in Shanghai (still 30 June in UTC), which belongs to the second phase."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.stats import figures
from backend.stats.filters import StatFilter
from backend.stats.rollup import rebuild_rollups
from tests.support.stats import at, key_estate, make_case, squad_of, town

NOW = at("2026-12-01 10:00")
YEAR = StatFilter(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
H = dt.timedelta(hours=1)


@pytest.fixture
def five(session):
    """A: 30 June 23:30, on time at every step, satisfied. B: 1 July 00:10, the same flat, late at every step,
    returned and re-dispatched, extended, unsatisfied and handled again. C: 15 July, dispatched and never
    signed, overdue now. D: 1 November, withdrawn, no category. E: 31 March, outside the phases, resolved in
    time, basically satisfied."""
    estate = key_estate(session, "新青浦花苑")  # a key estate of 夏阳街道
    flat = {"building": "12", "unit": "1", "room": "301"}
    a0 = at("2026-06-30 23:30")
    a = make_case(
        session,
        a0,
        estate=estate,
        status="closed",
        sign_due_at=a0 + 24 * H,
        signed_at=a0 + 3 * H,
        onsite_due_at=a0 + 2 * H,
        onsite_at=a0 + 1.5 * H,
        handle_due_at=a0 + 120 * H,
        resolved_at=a0 + 100 * H,
        rating="satisfied",
        events=[("dispatch", a0 + H, "submitted"), ("handle", a0 + 30 * H, "verified")],
        **flat,
    )
    b0 = at("2026-07-01 00:10")
    b = make_case(
        session,
        b0,
        estate=estate,
        status="closed",
        category_code="group_rental",
        source="hotline_12345",
        sign_due_at=b0 + 24 * H,
        signed_at=b0 + 30 * H,
        onsite_due_at=b0 + 24 * H,
        onsite_at=b0 + 30 * H,
        handle_due_at=b0 + 150 * H,
        resolved_at=b0 + 200 * H,
        rating="unsatisfied",
        reopen_count=1,
        events=[
            ("dispatch", b0 + H, "submitted"),
            ("return", b0 + 2 * H, "dispatched"),
            ("dispatch", b0 + 3 * H, "returned"),
            ("handle", b0 + 50 * H, "verified"),
            ("handle", b0 + 60 * H, "handling"),
        ],
        extensions=["approved", "rejected"],
        **flat,
    )
    c0 = at("2026-07-15 09:00")
    c = make_case(
        session,
        c0,
        town_code="yingpu",
        status="dispatched",
        source="property_report",
        sign_due_at=c0 + 24 * H,
        onsite_due_at=c0 + 24 * H,
        handle_due_at=NOW + 48 * H,
        next_due_at=c0 + 24 * H,
    )
    d = make_case(
        session,
        at("2026-11-01 08:00"),
        town_code="yingpu",
        status="withdrawn",
        category_code=None,
        source="bot",
    )
    e0 = at("2026-03-31 23:59")
    e = make_case(
        session,
        e0,
        status="resolved",
        sign_due_at=e0 + 24 * H,
        signed_at=e0 + 10 * H,
        handle_due_at=e0 + 72 * H,
        resolved_at=e0 + 50 * H,
        rating="basically_satisfied",
    )
    rebuild_rollups(session, NOW)
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "estate": estate}


def counts(session, flt, by):
    return {c.key: c.cases for c in figures.counts_by(session, flt, by)}


def test_phases_split_at_shanghai_midnight(session, five):
    assert counts(session, YEAR, "phase") == {
        "2026-outside": 1,
        "2026-overhaul": 1,
        "2026-enforcement": 2,
        "2026-review": 1,
    }
    assert (
        sum(counts(session, StatFilter(dt.date(2026, 6, 30), dt.date(2026, 6, 30)), "source").values()) == 1
    )
    july = counts(session, StatFilter(dt.date(2026, 7, 1), dt.date(2026, 7, 31)), "source")
    assert july == {"hotline_12345": 1, "property_report": 1}
    enforcement = StatFilter(dt.date(2026, 1, 1), dt.date(2026, 12, 31), phases=("enforcement",))
    assert sum(counts(session, enforcement, "town").values()) == 2
    two = StatFilter(dt.date(2026, 1, 1), dt.date(2026, 12, 31), phases=("overhaul", "review"))
    assert sum(counts(session, two, "town").values()) == 2


def test_range_across_a_month_edge_adds_whole_months_and_loose_days(session, five):
    flt = StatFilter(dt.date(2026, 3, 31), dt.date(2026, 7, 1))  # E's day, April–June whole, B's day
    assert counts(session, flt, "source") == {"mini_program": 2, "hotline_12345": 1}
    assert counts(session, flt, "month") == {
        "2026-03-01": 1,
        "2026-04-01": 0,
        "2026-05-01": 0,
        "2026-06-01": 1,
        "2026-07-01": 1,
    }


def test_counts_by_town_squad_group_category_status(session, five):
    xiayang, yingpu = town(session, "xiayang"), town(session, "yingpu")
    assert counts(session, YEAR, "town") == {str(xiayang.id): 3, str(yingpu.id): 2}
    assert counts(session, StatFilter(squad_id=squad_of(session, "yingpu").id), "squad") == {
        str(yingpu.id): 2
    }
    assert counts(session, YEAR, "group") == {"housing_safety": 3, "rental": 1, "": 1}
    assert counts(session, YEAR, "category") == {"illegal_construction": 3, "group_rental": 1, "": 1}
    assert counts(session, StatFilter(group="rental"), "town") == {str(xiayang.id): 1}
    assert counts(session, YEAR, "status") == {"closed": 2, "dispatched": 1, "withdrawn": 1, "resolved": 1}
    labels = {c.key: c.label for c in figures.counts_by(session, YEAR, "category")}
    assert labels[""] == "未确定" and labels["group_rental"]
    assert counts(session, YEAR, "estate") == {str(five["estate"].id): 2}


def test_handling_times_rates_and_satisfaction(session, five):
    handling = figures.handling_figures(session, YEAR, NOW)
    assert handling.cases == 5
    # signing: A 3 h (≤4), B 30 h (≤48), E 10 h (≤12); C due and never signed
    assert (handling.sign_on_time.part, handling.sign_on_time.whole) == (2, 4)
    sign = handling.durations["sign"]
    assert sign.cases == 3 and sign.median.label == "≤12小时" and sign.p90.label == "≤2天"
    # on site: A in time, B late, C due and nobody there
    assert (handling.onsite_on_time.part, handling.onsite_on_time.whole) == (1, 3)
    # first action: A 30 h, B 50 h (the first of its two)
    action = handling.durations["action"]
    assert action.cases == 2 and action.median.hours == 48 and action.p90.hours == 72
    # resolution: A and E in time, B late; C's deadline is still ahead
    assert (handling.resolve_on_time.part, handling.resolve_on_time.whole) == (2, 3)
    assert handling.durations["resolve"].median.hours == 120  # 50 h, 100 h, 200 h: the middle one
    assert handling.satisfaction.percent == "66.7%"
    assert handling.count("unsatisfied") == 1 and handling.count("rehandled") == 1
    assert handling.count("extended") == 1  # the rejected request does not count
    assert handling.count("returned") == 1 and handling.count("redispatched") == 1
    assert handling.count("repeat_estate") == 1 and handling.count("repeat_flat") == 1
    assert handling.overdue_now == 1


def test_a_filter_narrows_handling_too(session, five):
    hotline = figures.handling_figures(session, StatFilter(source="hotline_12345"), NOW)
    assert hotline.cases == 1 and hotline.sign_on_time.percent == "0.0%" and hotline.overdue_now == 0
    empty = figures.handling_figures(session, StatFilter(dt.date(2025, 1, 1), dt.date(2025, 12, 31)), NOW)
    assert empty.cases == 0 and empty.sign_on_time.percent == "—" and empty.durations["sign"].median is None


def test_phase_comparison(session, five):
    rows = {row.key: row for row in figures.phase_comparison(session, YEAR, NOW)}
    assert list(rows) == ["2026-enforcement", "2026-outside", "2026-overhaul", "2026-review"]
    assert rows["2026-enforcement"].cases == 2 and rows["2026-enforcement"].label == "2026年加强执法"
    assert rows["2026-overhaul"].resolve_on_time.percent == "100.0%"
    assert (
        rows["2026-enforcement"].sign_on_time.part == 0 and rows["2026-enforcement"].sign_on_time.whole == 2
    )


def test_watch_list_and_hot_spots_with_the_period_before(session, five):
    july = StatFilter(dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    watch = {row.estate_id: row for row in figures.watch_list(session, july, NOW)}
    row = watch[five["estate"].id]
    assert len(watch) == 7  # the notice's key estates, watched with or without cases
    assert (row.cases, row.previous, row.change) == (1, 1, 0)  # B in July, A in June
    assert [m.cases for m in row.months] == [0, 0, 0, 0, 1, 1]  # February to July
    hot = figures.hot_spots(session, july)
    assert [(h.estate_id, h.cases, h.previous, h.rise) for h in hot] == [(five["estate"].id, 1, 1, 0)]
    assert figures.hot_spots(session, StatFilter(source="bot")) == []


def test_squad_ranking_states_its_rule_and_scores(session, five):
    ranking = figures.squad_ranking(session, YEAR, NOW)
    assert "按时办结率 × 50" in ranking.rule
    rows = {row.name: row for row in ranking.rows}
    xiayang = rows[squad_of(session, "xiayang").name]
    # signing 2/2 (A, E; B late → 2/3), resolution 2/3, satisfaction 2/3
    assert (xiayang.sign_on_time.part, xiayang.sign_on_time.whole) == (2, 3)
    assert xiayang.score == pytest.approx(round(100 * (2 / 3 * 20 + 2 / 3 * 50 + 2 / 3 * 30) / 100, 1))
    yingpu = rows[squad_of(session, "yingpu").name]
    assert (yingpu.cases, yingpu.open_now, yingpu.overdue_now) == (2, 1, 1)
    assert yingpu.score == 0.0  # its one due signing was missed
    assert ranking.rows[0].name == xiayang.name


def test_trend_by_week_within_a_year_and_by_month_beyond(session, five):
    week = figures.trend(session, StatFilter(dt.date(2026, 6, 29), dt.date(2026, 7, 12)))
    assert week.grain == "week"
    assert [(p.key, p.cases) for p in week.points] == [("2026-06-29", 2), ("2026-07-06", 0)]
    month = figures.trend(session, StatFilter(dt.date(2025, 1, 1), dt.date(2026, 12, 31)))
    assert month.grain == "month" and len(month.points) == 24 and sum(p.cases for p in month.points) == 5


def test_dashboard_holds_every_part(session, five):
    board = figures.dashboard(session, StatFilter(dt.date(2026, 1, 1), dt.date(2026, 12, 31)), NOW)
    assert board.handling.cases == 5 and board.refreshed_at is not None
    assert board.companies is not None and "失职" in board.companies.rule
    assert sum(c.cases for c in board.by_town) == 5
