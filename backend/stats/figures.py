"""The figures the bureau reads: counts by every key, handling times and rates, satisfaction, repeats, the
key-estate watch list, hot spots and rankings.

They come from the summary tables (`backend.stats.models`), never from the cases, except what is about now
(overdue now, open now) and the estates' figures for one category or source, which the estate table does not
keep. Every function takes the session first and a StatFilter; open ends of its range are closed at the first
summed day and today.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from backend.cases.models import SOURCE_LABELS, Case
from backend.cases.workflow import OPEN, STATUS_LABELS, TIMED
from backend.org.models import Estate, Squad, Town
from backend.property.duty import SCORE_RULE as COMPANY_SCORE_RULE
from backend.property.duty import Compliance, compliance_ranking
from backend.stats.filters import (
    OUTSIDE_PHASES,
    PHASES,
    StatFilter,
    local_day,
    period_after,
    period_start,
    phase_of,
)
from backend.stats.models import (
    BUCKETS,
    COUNTS,
    DAY,
    DURATION_EDGES_HOURS,
    MONTH,
    WEEK,
    YEAR,
    case_rollup,
    estate_rollup,
)
from backend.stats.rollup import refreshed_at
from backend.stats.selection import case_conditions, key_conditions, town_ids
from backend.taxonomy.models import Category, CategoryGroup

DIMENSIONS = {
    "source": "来源",
    "group": "类别组",
    "category": "类别",
    "town": "街镇",
    "squad": "中队",
    "status": "状态",
    "phase": "阶段",
    "month": "月份",
    "week": "周",
    "estate": "小区",
}
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])
WEEKLY_UP_TO = dt.timedelta(days=366)  # a longer range is drawn by month
HOT_SPOTS = 10
WATCH_MONTHS = 6


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    cases: int


@dataclass(frozen=True)
class Rate:
    """A share: `part` of `whole`; no value when there is nothing to share."""

    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    @property
    def percent(self) -> str:
        return "—" if not self.whole else f"{100 * self.part / self.whole:.1f}%"


@dataclass(frozen=True)
class Percentile:
    """A percentile of durations read to the bucket: at most `hours` (None: longer than 30 days)."""

    bucket: int

    @property
    def hours(self) -> int | None:
        return DURATION_EDGES_HOURS[self.bucket] if self.bucket < len(DURATION_EDGES_HOURS) else None

    @property
    def label(self) -> str:
        hours = self.hours
        if hours is None:
            return f"{DURATION_EDGES_HOURS[-1] // 24}天以上"
        return f"≤{hours}小时" if hours < 48 else f"≤{hours // 24}天"


@dataclass(frozen=True)
class Duration:
    """How long a stage took over the cases that reached it: how many, the median and the 90th percentile."""

    cases: int
    median: Percentile | None
    p90: Percentile | None


def percentile(histogram: Sequence[int], q: float) -> Percentile | None:
    """The bucket holding the q-th quantile of a histogram of DURATION_EDGES_HOURS (nearest rank)."""
    total = sum(histogram)
    if not total:
        return None
    rank = max(1, -(-int(q * total * 1000) // 1000))  # ceil(q * total) without float surprises
    running = 0
    for bucket, count in enumerate(histogram):
        running += count
        if running >= rank:
            return Percentile(bucket)
    return Percentile(len(histogram) - 1)  # pragma: no cover - the loop always reaches the total


@dataclass(frozen=True)
class Handling:
    """How the cases reported in the range were handled (their current state; overdue is now)."""

    cases: int
    sums: dict[str, int]
    durations: dict[str, Duration]
    overdue_now: int

    def rate(self, part: str, whole: str) -> Rate:
        return Rate(self.sums[part], self.sums[whole])

    @property
    def sign_on_time(self) -> Rate:
        return self.rate("sign_on_time", "sign_due")

    @property
    def onsite_on_time(self) -> Rate:
        return self.rate("onsite_on_time", "onsite_due")

    @property
    def resolve_on_time(self) -> Rate:
        return self.rate("resolve_on_time", "resolve_due")

    @property
    def satisfaction(self) -> Rate:
        return self.rate("satisfied", "rated")

    def count(self, name: str) -> int:
        """One of the sums by name (signed, returned, repeat_estate …)."""
        return self.sums[name]


# --- reading the summary tables ---------------------------------------------------------------------------


def bounded(session: Session, flt: StatFilter, today: dt.date | None = None) -> StatFilter:
    """`flt` with open ends closed: at the first day summed, and today (Shanghai)."""
    if flt.start and flt.end:
        return flt
    today = today or local_day(dt.datetime.now(dt.UTC))
    first = session.scalar(select(func.min(case_rollup.c.period)).where(case_rollup.c.grain == DAY))
    return flt.bounded(first or today, max(today, first or today))


LONGEST = (YEAR, MONTH)  # the grains a total over a range reads (a breakdown by time reads only its own)


def _period_condition(table: Any, flt: StatFilter, grains: tuple[str, ...] = LONGEST) -> ColumnElement[bool]:
    """The rows that make up the filter's range: its whole periods of `grains` and the loose days."""
    return or_(
        false(),
        *(
            and_(table.c.grain == piece, table.c.period.in_(firsts))
            for piece, firsts in flt.pieces(grains).items()
            if firsts
        ),
    )


def _case_where(
    session: Session, flt: StatFilter, grains: tuple[str, ...] = LONGEST
) -> list[ColumnElement[bool]]:
    t = case_rollup.c
    keys = key_conditions(session, flt, t.town_id, t.category_code, t.source)
    return [_period_condition(case_rollup, flt, grains), *keys]


def _sums_of(session: Session, flt: StatFilter, names: Sequence[str]) -> dict[str, int]:
    query = select(*(func.coalesce(func.sum(case_rollup.c[name]), 0) for name in names)).where(
        *_case_where(session, flt)
    )
    row = session.execute(query).one()
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def _grouped(
    session: Session,
    flt: StatFilter,
    column: str,
    names: Sequence[str] = ("cases",),
    grains: tuple[str, ...] = LONGEST,
) -> list[tuple[Any, dict[str, int]]]:
    query = (
        select(case_rollup.c[column], *(func.sum(case_rollup.c[name]) for name in names))
        .where(*_case_where(session, flt, grains))
        .group_by(case_rollup.c[column])
    )
    return [
        (row[0], {n: int(v or 0) for n, v in zip(names, row[1:], strict=True)})
        for row in session.execute(query)
    ]


# --- counts -------------------------------------------------------------------------------------------------


def _labels(session: Session, by: str) -> dict[Any, str]:
    if by == "source":
        return {str(k): v for k, v in SOURCE_LABELS.items()}
    if by == "status":
        return {str(k): v for k, v in STATUS_LABELS.items()}
    if by == "category":
        return {k: v for k, v in session.execute(select(Category.code, Category.name))}
    if by == "group":
        return {k: v for k, v in session.execute(select(CategoryGroup.code, CategoryGroup.name))}
    if by == "town":
        return {str(k): v for k, v in session.execute(select(Town.id, Town.name))}
    if by == "squad":
        return {str(k): v for k, v in session.execute(select(Squad.town_id, Squad.name))}
    return {}


def _fold(pairs: Iterable[tuple[Any, int]], key: Callable[[Any], str]) -> dict[str, int]:
    folded: dict[str, int] = defaultdict(int)
    for raw, cases in pairs:
        folded[key(raw)] += cases
    return folded


def counts_by(session: Session, flt: StatFilter, by: str) -> list[Count]:
    """The number of cases reported in the range by one of DIMENSIONS, the largest first (by time, in order)."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}")
    flt = bounded(session, flt)
    if by == "estate":
        return [Count(str(e.estate_id), e.label, e.cases) for e in _estate_counts(session, flt)]
    if by in {"phase", "month", "week"}:
        return _by_time(session, flt, by)
    column = {
        "group": "category_code",
        "category": "category_code",
        "squad": "town_id",
        "town": "town_id",
    }.get(by, by)
    pairs = [(raw, sums["cases"]) for raw, sums in _grouped(session, flt, column)]
    if by == "group":
        groups = {k: v for k, v in session.execute(select(Category.code, Category.group_code))}
        folded = _fold(pairs, lambda code: groups.get(code) or "")
    else:
        folded = _fold(pairs, lambda raw: str(raw) if raw not in (None, 0, "") else "")
    labels = _labels(session, by)
    counts = [Count(key, labels.get(key, key) if key else "未确定", n) for key, n in folded.items() if n]
    return sorted(counts, key=lambda c: (-c.cases, c.key))


def _by_time(session: Session, flt: StatFilter, by: str) -> list[Count]:
    grain = WEEK if by == "week" else MONTH
    by_period = _grouped(session, flt, "period", grains=(grain,))
    pairs = [(period, sums["cases"]) for period, sums in by_period]
    if by == "phase":
        folded = _fold(pairs, lambda day: f"{day.year}-{phase_of(day).code}")
        labels = {
            f"{y}-{p.code}": f"{y}年{p.label}"
            for y in {k.year for k, _ in pairs}
            for p in (*PHASES, OUTSIDE_PHASES)
        }
    else:
        folded = _fold(pairs, lambda day: period_start(day, grain).isoformat())
        labels = {}
    points = _every_period(flt, grain) if by != "phase" else sorted(folded)
    return [
        Count(key, labels.get(key, key), folded.get(key, 0)) for key in points if by != "phase" or folded[key]
    ]


def _every_period(flt: StatFilter, grain: str) -> list[str]:
    """Every week or month the range touches (kept by the phases), so that a trend shows its empty periods."""
    assert flt.start is not None and flt.end is not None
    first, keys = period_start(flt.start, grain), []
    while first <= flt.end:
        after = period_after(first, grain)
        if any(flt.keeps_day(first + dt.timedelta(days=n)) for n in range((after - first).days)):
            keys.append(first.isoformat())
        first = after
    return keys


@dataclass(frozen=True)
class Trend:
    grain: str  # "week" or "month"
    points: list[Count]


def trend(session: Session, flt: StatFilter) -> Trend:
    """Cases by week (by month over more than a year)."""
    flt = bounded(session, flt)
    assert flt.start is not None and flt.end is not None
    grain = "week" if flt.end - flt.start <= WEEKLY_UP_TO else "month"
    return Trend(grain, _by_time(session, flt, grain))


# --- handling -----------------------------------------------------------------------------------------------

_DURATIONS = {"sign": "签收", "onsite": "到场", "action": "首次处置", "resolve": "办结"}


def handling_figures(session: Session, flt: StatFilter, now: dt.datetime) -> Handling:
    """Handling times, on-time rates, extensions, returns, satisfaction and repeats of the cases reported in
    the range, and how many of them are overdue now."""
    flt = bounded(session, flt)
    histogram = [f"{name}_h{i}" for name in _DURATIONS for i in range(BUCKETS)]
    sums = _sums_of(session, flt, COUNTS + tuple(histogram))
    durations = {}
    for name in _DURATIONS:
        counts = [sums[f"{name}_h{i}"] for i in range(BUCKETS)]
        durations[name] = Duration(sum(counts), percentile(counts, 0.5), percentile(counts, 0.9))
    return Handling(sums["cases"], sums, durations, overdue_now(session, flt, now))


def _case_filter(session: Session, query: _Query, flt: StatFilter) -> _Query:
    """The filter applied to the cases themselves (for what is about now)."""
    return query.where(*case_conditions(session, flt))


def overdue_now(session: Session, flt: StatFilter, now: dt.datetime) -> int:
    """The cases reported in the range that a squad holds past a deadline now (as the overdue list says)."""
    query = (
        select(func.count())
        .select_from(Case)
        .where(Case.status.in_(TIMED), Case.next_due_at.is_not(None), Case.next_due_at <= now)
    )
    return int(session.scalar(_case_filter(session, query, bounded(session, flt))) or 0)


# --- the campaign's phases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseRow:
    key: str
    label: str
    cases: int
    sign_on_time: Rate
    resolve_on_time: Rate
    satisfaction: Rate


_PHASE_SUMS = ("cases", "sign_on_time", "sign_due", "resolve_on_time", "resolve_due", "satisfied", "rated")


def phase_comparison(session: Session, flt: StatFilter, now: dt.datetime) -> list[PhaseRow]:
    """Each phase of each year in the range side by side: cases, on-time signing and resolution, satisfaction."""
    flt = bounded(session, flt)
    folded: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_PHASE_SUMS, 0))
    labels: dict[str, str] = {}
    for period, sums in _grouped(session, flt, "period", _PHASE_SUMS, grains=(MONTH,)):
        phase = phase_of(period)
        key = f"{period.year}-{phase.code}"
        labels[key] = f"{period.year}年{phase.label}"
        for name, value in sums.items():
            folded[key][name] += value
    return [
        PhaseRow(
            key,
            labels[key],
            s["cases"],
            Rate(s["sign_on_time"], s["sign_due"]),
            Rate(s["resolve_on_time"], s["resolve_due"]),
            Rate(s["satisfied"], s["rated"]),
        )
        for key, s in sorted(folded.items())
        if s["cases"]
    ]


# --- estates: hot spots and the watch list ------------------------------------------------------------------


@dataclass(frozen=True)
class EstateCount:
    estate_id: int
    label: str
    cases: int


def _estate_counts(
    session: Session, flt: StatFilter, estate_ids: Sequence[int] | None = None
) -> list[EstateCount]:
    """Cases by estate in the range, the most first. The estate table keeps category groups; a filter on one
    category or one source counts the cases themselves."""
    if flt.category or flt.source:
        query = (
            select(Case.estate_id, func.count()).where(Case.estate_id.is_not(None)).group_by(Case.estate_id)
        )
        if estate_ids is not None:
            query = query.where(Case.estate_id.in_(estate_ids))
        pairs: list[tuple[Any, Any]] = [
            (row[0], row[1]) for row in session.execute(_case_filter(session, query, flt))
        ]
    else:
        t = estate_rollup.c
        query = select(t.estate_id, func.sum(t.cases)).where(_period_condition(estate_rollup, flt))
        towns = town_ids(session, flt)
        if towns is not None:
            query = query.where(t.town_id.in_(towns))
        if flt.group:
            query = query.where(t.group_code == flt.group)
        if estate_ids is not None:
            query = query.where(t.estate_id.in_(estate_ids))
        pairs = [(row[0], row[1]) for row in session.execute(query.group_by(t.estate_id))]
    names = _estate_names(session, [estate_id for estate_id, _ in pairs])
    counts = [EstateCount(int(e), names.get(int(e), str(e)), int(n)) for e, n in pairs if n]
    return sorted(counts, key=lambda c: (-c.cases, c.estate_id))


def _estate_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for chunk in range(0, len(ids), 1000):
        query = select(Estate.id, Estate.name, Town.name).join(Town, Town.id == Estate.town_id)
        for estate_id, name, town in session.execute(query.where(Estate.id.in_(ids[chunk : chunk + 1000]))):
            names[estate_id] = f"{name}（{town}）"
    return names


def previous_range(flt: StatFilter) -> StatFilter:
    """The range of the same length just before `flt`'s (whole months before whole months)."""
    assert flt.start is not None and flt.end is not None
    if flt.start.day == 1 and (flt.end + dt.timedelta(days=1)).day == 1:
        months = (flt.end.year - flt.start.year) * 12 + flt.end.month - flt.start.month + 1
        first = flt.start
        for _ in range(months):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        return flt.with_range(first, flt.start - dt.timedelta(days=1))
    length = flt.end - flt.start
    return flt.with_range(flt.start - length - dt.timedelta(days=1), flt.start - dt.timedelta(days=1))


@dataclass(frozen=True)
class HotSpot:
    estate_id: int
    label: str
    cases: int
    previous: int

    @property
    def rise(self) -> int:
        return self.cases - self.previous


def hot_spots(session: Session, flt: StatFilter, limit: int = HOT_SPOTS) -> list[HotSpot]:
    """The estates with the most cases in the range, with their cases in the period before."""
    flt = bounded(session, flt)
    top = _estate_counts(session, flt)[:limit]
    before = {
        c.estate_id: c.cases for c in _estate_counts(session, previous_range(flt), [c.estate_id for c in top])
    }
    return [HotSpot(c.estate_id, c.label, c.cases, before.get(c.estate_id, 0)) for c in top]


@dataclass(frozen=True)
class WatchRow:
    estate_id: int
    label: str
    cases: int
    previous: int
    months: list[Count] = field(default_factory=list)  # the last WATCH_MONTHS months up to the range's end

    @property
    def change(self) -> int:
        return self.cases - self.previous


def watch_list(session: Session, flt: StatFilter, now: dt.datetime) -> list[WatchRow]:
    """The key estates (the notice's and those the bureau added): cases in the range and the period before,
    and their monthly trend."""
    flt = bounded(session, flt)
    assert flt.end is not None
    watched = session.execute(
        select(Estate.id, Estate.name, Town.name)
        .join(Town, Town.id == Estate.town_id)
        .where(Estate.is_key.is_(True))
        .order_by(Town.position, Estate.name)
    ).all()
    ids = [estate_id for estate_id, _, _ in watched]
    if not ids:
        return []
    now_counts = {c.estate_id: c.cases for c in _estate_counts(session, flt, ids)}
    before = {c.estate_id: c.cases for c in _estate_counts(session, previous_range(flt), ids)}
    last_month = flt.end.replace(day=1)
    first_month = last_month
    for _ in range(WATCH_MONTHS - 1):
        first_month = (first_month - dt.timedelta(days=1)).replace(day=1)
    span = StatFilter(
        first_month,
        period_after(last_month, MONTH) - dt.timedelta(days=1),
        flt.phases,
        flt.town_id,
        flt.squad_id,
        flt.group,
    )
    monthly = _monthly_of_estates(session, span, ids)
    months = _every_period(span, MONTH)
    return [
        WatchRow(
            estate_id,
            f"{name}（{town}）",
            now_counts.get(estate_id, 0),
            before.get(estate_id, 0),
            [Count(m, m[:7], monthly.get((estate_id, m), 0)) for m in months],
        )
        for estate_id, name, town in watched
    ]


def _monthly_of_estates(session: Session, span: StatFilter, ids: Sequence[int]) -> dict[tuple[int, str], int]:
    t = estate_rollup.c
    query = (
        select(t.estate_id, t.period, func.sum(t.cases))
        .where(t.grain == MONTH, t.estate_id.in_(ids), t.period.between(span.start, span.end))
        .group_by(t.estate_id, t.period)
    )
    if span.group:
        query = query.where(t.group_code == span.group)
    return {(int(e), p.isoformat()): int(n) for e, p, n in session.execute(query)}


# --- rankings -----------------------------------------------------------------------------------------------

SQUAD_SCORE_RULE = (
    "综合得分 = 按时签收率 × 20 + 按时办结率 × 50 + 满意率 × 30（满分 100）；某项没有可计算的工单时，"
    "按其余各项的权重折算。工作量为所选期间上报的工单数，在办为当前未办结的工单数。"
)
_SQUAD_WEIGHTS = {"sign": 20, "resolve": 50, "satisfaction": 30}
_SQUAD_SUMS = ("cases", "sign_on_time", "sign_due", "resolve_on_time", "resolve_due", "satisfied", "rated")


@dataclass(frozen=True)
class SquadRow:
    squad_id: int
    name: str
    cases: int
    open_now: int
    overdue_now: int
    sign_on_time: Rate
    resolve_on_time: Rate
    satisfaction: Rate

    @property
    def score(self) -> float | None:
        rates = {
            "sign": self.sign_on_time,
            "resolve": self.resolve_on_time,
            "satisfaction": self.satisfaction,
        }
        weighted = [
            (rate.value, _SQUAD_WEIGHTS[name]) for name, rate in rates.items() if rate.value is not None
        ]
        if not weighted:
            return None
        return round(100 * sum(v * w for v, w in weighted) / sum(w for _, w in weighted), 1)


@dataclass(frozen=True)
class Ranking:
    rule: str
    rows: list[Any]


def squad_ranking(session: Session, flt: StatFilter, now: dt.datetime) -> Ranking:
    """The squads by their score (workload, open and overdue now beside it)."""
    flt = bounded(session, flt)
    sums = dict(_grouped(session, flt, "town_id", _SQUAD_SUMS))
    open_query = select(Case.squad_id, func.count()).where(Case.status.in_(OPEN)).group_by(Case.squad_id)
    open_now: dict[int | None, int] = {
        k: v for k, v in session.execute(_case_filter(session, open_query, flt))
    }
    overdue_query = (
        select(Case.squad_id, func.count())
        .where(Case.status.in_(TIMED), Case.next_due_at.is_not(None), Case.next_due_at <= now)
        .group_by(Case.squad_id)
    )
    overdue: dict[int | None, int] = {
        k: v for k, v in session.execute(_case_filter(session, overdue_query, flt))
    }
    squads = session.execute(select(Squad.id, Squad.name, Squad.town_id).order_by(Squad.id)).all()
    towns = town_ids(session, flt)
    rows = []
    for squad_id, name, town_id in squads:
        if towns is not None and town_id not in towns:
            continue
        s = sums.get(town_id) or dict.fromkeys(_SQUAD_SUMS, 0)
        rows.append(
            SquadRow(
                squad_id,
                name,
                s["cases"],
                int(open_now.get(squad_id, 0)),
                int(overdue.get(squad_id, 0)),
                Rate(s["sign_on_time"], s["sign_due"]),
                Rate(s["resolve_on_time"], s["resolve_due"]),
                Rate(s["satisfied"], s["rated"]),
            )
        )
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0), -r.cases, r.squad_id))
    return Ranking(SQUAD_SCORE_RULE, rows)


def company_ranking(session: Session) -> Ranking:
    """The property companies by their compliance record (the duty cross-check's ranking)."""
    rows: list[Compliance] = compliance_ranking(session)
    return Ranking(COMPANY_SCORE_RULE, rows)


# --- the dashboard ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    filter: StatFilter
    refreshed_at: dt.datetime | None
    handling: Handling
    trend: Trend
    by_town: list[Count]
    by_group: list[Count]
    by_category: list[Count]
    by_source: list[Count]
    by_status: list[Count]
    phases: list[PhaseRow]
    watch: list[WatchRow]
    hot: list[HotSpot]
    squads: Ranking
    companies: Ranking | None


def dashboard(session: Session, flt: StatFilter, now: dt.datetime, *, companies: bool = True) -> Dashboard:
    """Everything the dashboard draws, for one filter."""
    flt = bounded(session, flt, local_day(now))
    return Dashboard(
        filter=flt,
        refreshed_at=refreshed_at(session),
        handling=handling_figures(session, flt, now),
        trend=trend(session, flt),
        by_town=counts_by(session, flt, "town"),
        by_group=counts_by(session, flt, "group"),
        by_category=counts_by(session, flt, "category"),
        by_source=counts_by(session, flt, "source"),
        by_status=counts_by(session, flt, "status"),
        phases=phase_comparison(session, flt, now),
        watch=watch_list(session, flt, now),
        hot=hot_spots(session, flt),
        squads=squad_ranking(session, flt, now),
        companies=company_ranking(session) if companies else None,
    )
