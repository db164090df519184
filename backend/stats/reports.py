"""The monthly report per town and for the district, and the summary at the end of each campaign phase: the
dashboard's figures for one period beside those of the periods it is compared with. Also who may read which
figures (the bureau the district, a squad leader their own town) and the handling figures as the lines that
the dashboard and the reports print."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import SOURCE_LABELS
from backend.errors import ValidationFailed
from backend.org.models import Squad, Town
from backend.stats.figures import (
    Count,
    Dashboard,
    Handling,
    Rate,
    counts_by,
    dashboard,
    handling_figures,
)
from backend.stats.filters import (
    PHASE_BY_CODE,
    PHASES,
    StatFilter,
    local_day,
    next_month,
    phase_range,
)
from backend.taxonomy.models import Category, CategoryGroup

# --- whose figures ------------------------------------------------------------------------------------------


def town_label(session: Session, town_id: int | None) -> str:
    """The name of the town a report is about ("全区" for the district); a 400 for a town that does not exist."""
    if town_id is None:
        return "全区"
    name = session.scalar(select(Town.name).where(Town.id == town_id))
    if name is None:
        raise ValidationFailed.on("town", "没有这个街镇")
    return name


# --- the filter form's choices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FilterChoices:
    towns: list[Choice]
    squads: list[Choice]
    groups: list[Choice]
    categories: list[Choice]
    sources: list[Choice]
    phases: list[Choice]


def filter_choices(session: Session) -> FilterChoices:
    """What the dashboard's filter form offers, in the order the bureau knows them."""
    towns = session.execute(select(Town.id, Town.name).order_by(Town.position)).all()
    squads = session.execute(select(Squad.id, Squad.name).join(Squad.town).order_by(Town.position)).all()
    groups = session.execute(select(CategoryGroup.code, CategoryGroup.name).order_by(CategoryGroup.position))
    categories = session.execute(select(Category.code, Category.name).order_by(Category.position))
    return FilterChoices(
        towns=[Choice(str(i), n) for i, n in towns],
        squads=[Choice(str(i), n) for i, n in squads],
        groups=[Choice(c, n) for c, n in groups],
        categories=[Choice(c, n) for c, n in categories],
        sources=[Choice(s.value, label) for s, label in SOURCE_LABELS.items()],
        phases=[Choice(p.code, f"{p.label}（{p.months[0]}—{p.months[-1]}月）") for p in PHASES],
    )


# --- the handling figures as printed lines ------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One figure over one or more periods: its values as printed, and how the first period's differs from each
    of the others ("" where there is nothing to compare)."""

    key: str
    label: str
    values: list[str]
    changes: list[str] = field(default_factory=list)


def _signed(number: float, unit: str = "") -> str:
    if number == 0:
        return "持平"
    return f"{'+' if number > 0 else '−'}{abs(number):g}{unit}"


def _count_changes(values: Sequence[int]) -> list[str]:
    return [_signed(values[0] - other) for other in values[1:]]


def _count_line(key: str, label: str, values: Sequence[int]) -> Line:
    return Line(key, label, [str(v) for v in values], _count_changes(values))


def _rate_change(now: Rate, then: Rate) -> str:
    if now.value is None or then.value is None:
        return ""
    return _signed(round(100 * (now.value - then.value), 1), "个百分点")


def _rate_line(key: str, label: str, rates: Sequence[Rate]) -> Line:
    values = [f"{r.percent}（{r.part}/{r.whole}）" for r in rates]
    return Line(key, label, values, [_rate_change(rates[0], other) for other in rates[1:]])


_DURATION_LABELS = {"sign": "签收用时", "onsite": "到场用时", "action": "首次处置用时", "resolve": "办结用时"}
_RATES: dict[str, tuple[str, Callable[[Handling], Rate]]] = {
    "sign_on_time": ("按时签收率", lambda h: h.sign_on_time),
    "onsite_on_time": ("按时到场率", lambda h: h.onsite_on_time),
    "resolve_on_time": ("按时办结率", lambda h: h.resolve_on_time),
    "satisfaction": ("满意率（满意、基本满意占已评价）", lambda h: h.satisfaction),
}
_COUNTS = {
    "extended": "批准延期（次）",
    "returned": "退单（次）",
    "redispatched": "改派（次）",
    "unsatisfied": "评价不满意",
    "rehandled": "不满意后重办",
    "repeat_estate": "同一小区 90 天内重复反映",
    "repeat_flat": "同一房屋 90 天内重复反映",
}


def handling_lines(handlings: Sequence[Handling]) -> list[Line]:
    """The handling figures of each period as lines: cases, times (median and 90th percentile, read to the
    bucket), on-time and satisfaction rates, then the counts; the first period compared with the second."""
    lines = [_count_line("cases", "上报工单", [h.cases for h in handlings])]
    for name, label in _DURATION_LABELS.items():
        values = []
        for h in handlings:
            d = h.durations[name]
            median = d.median.label if d.median else "—"
            p90 = d.p90.label if d.p90 else "—"
            values.append(f"中位 {median}，90% {p90}（{d.cases} 件）")
        lines.append(Line(name, label, values, [""] * (len(handlings) - 1)))
    lines += [_rate_line(key, label, [rate(h) for h in handlings]) for key, (label, rate) in _RATES.items()]
    lines.append(_count_line("overdue_now", "目前超期未办", [h.overdue_now for h in handlings]))
    lines += [_count_line(key, label, [h.count(key) for h in handlings]) for key, label in _COUNTS.items()]
    return lines


RATE_NAMES = {key: label.split("（")[0] for key, (label, _) in _RATES.items()}


def rate_values(handling: Handling) -> dict[str, float | None]:
    """The on-time and satisfaction rates in percent (None where nothing was due or rated), for the charts."""
    return {
        key: None if (value := rate(handling).value) is None else round(100 * value, 1)
        for key, (_, rate) in _RATES.items()
    }


# --- counts side by side ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    key: str
    label: str
    values: list[int]

    @property
    def changes(self) -> list[str]:
        return _count_changes(self.values)


def compare_counts(periods: Sequence[Sequence[Count]]) -> list[Compared]:
    """Counts by one key over several periods, row by row: every key counted in any of them, the most in the
    first period first."""
    labels: dict[str, str] = {}
    values: dict[str, list[int]] = {}
    for index, counts in enumerate(periods):
        for count in counts:
            labels.setdefault(count.key, count.label)
            values.setdefault(count.key, [0] * len(periods))[index] = count.cases
    rows = [Compared(key, labels[key], values[key]) for key in values]
    return sorted(rows, key=lambda r: ([-v for v in r.values], r.key))


# --- the reports --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str
    filter: StatFilter
    handling: Handling


@dataclass(frozen=True)
class Report:
    """A period's figures (the whole dashboard) beside the periods it is compared with."""

    kind: str  # "month" or "phase"
    title: str
    place: str  # the town's name, or 全区
    town_id: int | None
    periods: list[Period]  # the report's own period first
    board: Dashboard
    lines: list[Line]
    by_category: list[Compared]
    by_group: list[Compared]
    by_source: list[Compared]
    by_town: list[Compared]  # the district's report only
    partial_until: dt.date | None  # the period is not over: its figures run to this day


_PHASE_CODES = "阶段应为 overhaul（全面整治）、enforcement（加强执法）或 review（总结提升）"


def month_of(text: str) -> dt.date:
    """The first day of a month written 2026-11; a 400 in Chinese for anything else."""
    try:
        year, month = (int(part) for part in text.split("-"))
        if len(text) != 7 or not 2000 <= year <= 2100:
            raise ValueError(text)
        return dt.date(year, month, 1)
    except ValueError:
        raise ValidationFailed.on("month", "月份应写作 2026-11 这样的年-月") from None


def _month_label(first: dt.date) -> str:
    return f"{first.year}年{first.month}月"


def _phase_label(year: int, code: str) -> str:
    return f"{year}年{PHASE_BY_CODE[code].label}"


def latest_phase(today: dt.date) -> tuple[int, str]:
    """The campaign phase under way on `today`, or the last one before it (between January and March, the
    previous year's 总结提升)."""
    for phase in reversed(PHASES):
        if phase_range(today.year, phase.code)[0] <= today:
            return today.year, phase.code
    return today.year - 1, PHASES[-1].code


def last_month(today: dt.date) -> dt.date:
    """The first day of the month before `today`'s: the last whole month, the monthly report's default."""
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def latest_year_of(code: str, today: dt.date) -> int:
    """The year of the last phase `code` to have begun by `today` (this year's, or last year's)."""
    return today.year if phase_range(today.year, code)[0] <= today else today.year - 1


def which_phase(year: int | None, code: str, today: dt.date) -> tuple[int, str]:
    """The phase a summary is asked for, either part left out: none, the latest begun; a year alone, its
    总结提升 (or the phase under way this year); a phase alone, the last time it began."""
    if code and code not in PHASE_BY_CODE:
        raise ValidationFailed.on("phase", _PHASE_CODES)
    if code:
        return (year if year is not None else latest_year_of(code, today)), code
    latest_year, latest_code = latest_phase(today)
    if year is None or year == latest_year:
        return latest_year, latest_code
    return year, PHASES[-1].code


def phase_before(year: int, code: str) -> tuple[int, str]:
    """The campaign phase just before one: 总结提升 before 全面整治 is the previous year's."""
    index = [p.code for p in PHASES].index(code)
    return (year, PHASES[index - 1].code) if index else (year - 1, PHASES[-1].code)


def monthly_report(session: Session, month: dt.date, town_id: int | None, now: dt.datetime) -> Report:
    """The figures of one month (per town, or the district) with the month before for comparison."""
    today = local_day(now)
    first = month.replace(day=1)
    if first > today:
        raise ValidationFailed.on("month", "这个月还没有开始，没有可报告的数据")
    before = (first - dt.timedelta(days=1)).replace(day=1)
    spans = [
        (_month_label(first), first, next_month(first) - dt.timedelta(days=1)),
        (_month_label(before), before, first - dt.timedelta(days=1)),
    ]
    return _report(session, "month", f"{_month_label(first)}月度报告", spans, town_id, now)


def phase_summary(session: Session, year: int, code: str, town_id: int | None, now: dt.datetime) -> Report:
    """The summary at the end of a campaign phase: its figures beside the same phase a year before and the
    phase before it."""
    if code not in PHASE_BY_CODE:
        raise ValidationFailed.on("phase", _PHASE_CODES)
    start, end = phase_range(year, code)
    if start > local_day(now):
        raise ValidationFailed.on("phase", "这个阶段还没有开始，没有可总结的数据")
    earlier_year, earlier_code = phase_before(year, code)
    spans = [
        (_phase_label(year, code), start, end),
        (_phase_label(year - 1, code), *phase_range(year - 1, code)),
        (_phase_label(earlier_year, earlier_code), *phase_range(earlier_year, earlier_code)),
    ]
    return _report(session, "phase", f"{_phase_label(year, code)}阶段总结", spans, town_id, now)


def _report(
    session: Session,
    kind: str,
    title: str,
    spans: Sequence[tuple[str, dt.date, dt.date]],
    town_id: int | None,
    now: dt.datetime,
) -> Report:
    place = town_label(session, town_id)
    today = local_day(now)
    # The report's own period may still be running: its figures (and its weekly trend) stop at today.
    _, start, end = spans[0]
    partial_until = today if end > today else None
    filters = [StatFilter(start, min(end, today), town_id=town_id)]
    filters += [StatFilter(s, e, town_id=town_id) for _, s, e in spans[1:]]
    board = dashboard(session, filters[0], now, companies=town_id is None)
    handlings = [board.handling] + [handling_figures(session, f, now) for f in filters[1:]]
    periods = [Period(span[0], f, h) for span, f, h in zip(spans, filters, handlings, strict=True)]

    def compared(by: str) -> list[Compared]:
        return compare_counts([counts_by(session, f, by) for f in filters])

    return Report(
        kind=kind,
        title=f"{place}{title}",
        place=place,
        town_id=town_id,
        periods=periods,
        board=board,
        lines=handling_lines(handlings),
        by_category=compared("category"),
        by_group=compared("group"),
        by_source=compared("source"),
        by_town=compared("town") if town_id is None else [],
        partial_until=partial_until,
    )
