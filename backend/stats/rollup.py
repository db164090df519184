"""The summary tables kept up to date: each case reduced to its sums, the days it touched summed again, the
months summed from their days. Run by `flask stats refresh` (cron, every few minutes) and by a job the
dashboard asks for when the figures are older than `STALE_AFTER`.

A case is counted on the day it was reported (Shanghai time) with its current status, so a change to any case
re-sums the day it was reported. "By now" (a deadline passed unsigned …) means at the refresh: the sweep's
notices touch a case whose deadline passes, which brings its day into the next refresh.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, and_, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseEvent, CaseExtension, CaseStatus
from backend.cases.workflow import OPEN, TIMED
from backend.db import upsert, utcnow
from backend.queue import enqueue_after_commit
from backend.stats.filters import day_start, local_day, period_after, period_start
from backend.stats.models import (
    BUCKETS,
    COUNTS,
    DAY,
    DURATION_EDGES_HOURS,
    HISTOGRAM,
    MONTH,
    SUMMED_GRAINS,
    RollupState,
    case_rollup,
    estate_rollup,
)
from backend.taxonomy.models import Category

REPEAT_WITHIN = dt.timedelta(days=90)
# A transaction that changed a case may commit a little after the refresh that started before it: cases
# changed this long before the last refresh are summed again.
MARGIN = dt.timedelta(minutes=5)
STALE_AFTER = dt.timedelta(minutes=5)
CHUNK_DAYS = 31  # cases summed per pass of a full rebuild (about a month of them in memory at once)
STATE_ID = 1
SATISFIED = {"satisfied", "basically_satisfied"}
CASE_KEYS = ("town_id", "category_code", "source", "status")
ESTATE_KEYS = ("estate_id", "town_id", "group_code")


def duration_bucket(hours: float) -> int:
    """The bucket of DURATION_EDGES_HOURS a duration falls in (the last for longer than every edge)."""
    for index, edge in enumerate(DURATION_EDGES_HOURS):
        if hours <= edge:
            return index
    return BUCKETS - 1


@dataclass
class Timeline:
    """What a case's timeline and extensions add to its own columns."""

    first_action_at: dt.datetime | None = None
    returns: int = 0
    redispatches: int = 0
    extensions: int = 0


@dataclass(frozen=True)
class Repeats:
    estate: bool = False
    flat: bool = False


def case_sums(case: Any, timeline: Timeline, repeats: Repeats, as_of: dt.datetime) -> dict[str, int]:
    """A case's contribution to its rollup row: each of COUNTS and HISTOGRAM as 0 or more.

    `case` has the columns of a Case (a Case or a row of them)."""
    sums = dict.fromkeys(COUNTS + HISTOGRAM, 0)
    sums["cases"] = 1
    _clock(
        sums,
        "sign",
        case.created_at,
        case.signed_at,
        case.sign_due_at,
        case.status == CaseStatus.DISPATCHED,
        as_of,
    )
    _clock(sums, "onsite", case.created_at, case.onsite_at, case.onsite_due_at, case.status in OPEN, as_of)
    _clock(
        sums, "resolve", case.created_at, case.resolved_at, case.handle_due_at, case.status in TIMED, as_of
    )
    if case.signed_at is not None:
        sums["signed"] = 1
    if case.onsite_at is not None:
        sums["onsite"] = 1
    if case.resolved_at is not None:
        sums["resolved"] = 1
    if timeline.first_action_at is not None:
        sums["acted"] = 1
        sums[f"action_h{duration_bucket(_hours(case.created_at, timeline.first_action_at))}"] = 1
    if case.rating:
        sums["rated"] = 1
        sums["satisfied"] = int(case.rating in SATISFIED)
        sums["unsatisfied"] = int(case.rating == "unsatisfied")
    sums["rehandled"] = int(case.reopen_count > 0)
    sums["extended"] = timeline.extensions
    sums["returned"] = timeline.returns
    sums["redispatched"] = timeline.redispatches
    sums["repeat_estate"] = int(repeats.estate)
    sums["repeat_flat"] = int(repeats.flat)
    return sums


def _clock(
    sums: dict[str, int],
    name: str,
    start: dt.datetime,
    done: dt.datetime | None,
    due: dt.datetime | None,
    still_running: bool,
    as_of: dt.datetime,
) -> None:
    """A stage's duration bucket, and whether it was due by now and done in time."""
    if done is not None:
        sums[f"{name}_h{duration_bucket(_hours(start, done))}"] = 1
    if due is None:
        return
    if done is not None:
        sums[f"{name}_due"] = 1
        sums[f"{name}_on_time"] = int(done <= due)
    elif still_running and due < as_of:
        sums[f"{name}_due"] = 1


def _hours(start: dt.datetime, end: dt.datetime) -> float:
    return max((end - start).total_seconds(), 0.0) / 3600


# --- summing the cases of a span of days -------------------------------------------------------------------

_CASE_COLUMNS = (
    Case.id,
    Case.created_at,
    Case.town_id,
    Case.category_code,
    Case.source,
    Case.status,
    Case.estate_id,
    Case.building,
    Case.unit,
    Case.room,
    Case.signed_at,
    Case.sign_due_at,
    Case.onsite_at,
    Case.onsite_due_at,
    Case.resolved_at,
    Case.handle_due_at,
    Case.rating,
    Case.reopen_count,
)


def _timelines(session: Session, since: dt.datetime, until: dt.datetime) -> dict[int, Timeline]:
    """The first handling action, returns, re-dispatches and approved extensions of the cases reported in
    [since, until), by case id."""
    reported = and_(Case.created_at >= since, Case.created_at < until)
    timelines: dict[int, Timeline] = defaultdict(Timeline)
    events = (
        select(
            CaseEvent.case_id,
            CaseEvent.action,
            CaseEvent.from_status,
            func.min(CaseEvent.created_at),
            func.count(),
        )
        .join(Case, Case.id == CaseEvent.case_id)
        .where(reported, CaseEvent.action.in_(("handle", "return", "dispatch")))
        .group_by(CaseEvent.case_id, CaseEvent.action, CaseEvent.from_status)
    )
    for case_id, action, from_status, first_at, count in session.execute(events):
        timeline = timelines[case_id]
        if action == "handle":
            first = first_at.replace(tzinfo=dt.UTC) if first_at.tzinfo is None else first_at
            if timeline.first_action_at is None or first < timeline.first_action_at:
                timeline.first_action_at = first
        elif action == "return":
            timeline.returns += count
        elif from_status == CaseStatus.RETURNED:
            timeline.redispatches += count
    extensions = (
        select(CaseExtension.case_id, func.count())
        .join(Case, Case.id == CaseExtension.case_id)
        .where(reported, CaseExtension.status == "approved")
        .group_by(CaseExtension.case_id)
    )
    for case_id, count in session.execute(extensions):
        timelines[case_id].extensions = count
    return timelines


@dataclass
class LastSeen:
    """When each estate and each flat last had a case, as the cases are read in order of their reporting."""

    estates: dict[int, dt.datetime]
    flats: dict[tuple[int, str, str, str], dt.datetime]
    until: dt.datetime | None = None  # the cases before this have all been seen


def _with_repeats(
    session: Session, since: dt.datetime, until: dt.datetime, seen: LastSeen
) -> Iterator[tuple[Any, Repeats]]:
    """The cases reported in [since, until), each with whether another case about the same estate, and the
    same flat, was reported in the 90 days before it. Unless `seen` has read up to `since` already (a
    rebuild reads the days in order), it looks back past `since` at those estates first."""
    rows = session.execute(
        select(*_CASE_COLUMNS)
        .where(Case.created_at >= since, Case.created_at < until)
        .order_by(Case.created_at, Case.id)
    ).all()
    last_of_estate, last_of_flat = seen.estates, seen.flats
    estates = sorted({row.estate_id for row in rows if row.estate_id is not None})
    if seen.until != since:
        last_of_estate.clear()
        last_of_flat.clear()
    else:  # carried over: forget what is too old to matter, so that a rebuild's memory stays flat
        estates = []
        _forget_before(last_of_estate, since - REPEAT_WITHIN)
        _forget_before(last_of_flat, since - REPEAT_WITHIN)
    seen.until = until
    for chunk in range(0, len(estates), 1000):
        earlier = session.execute(
            select(Case.estate_id, Case.building, Case.unit, Case.room, Case.created_at)
            .where(
                Case.estate_id.in_(estates[chunk : chunk + 1000]),
                Case.created_at >= since - REPEAT_WITHIN,
                Case.created_at < since,
            )
            .order_by(Case.created_at)
        )
        for before in earlier:
            _remember(before, last_of_estate, last_of_flat)
    for row in rows:
        repeats = Repeats()
        if row.estate_id is not None:
            before_estate = last_of_estate.get(row.estate_id)
            before_flat = last_of_flat.get(_flat(row)) if row.room else None
            repeats = Repeats(
                estate=before_estate is not None and row.created_at - before_estate <= REPEAT_WITHIN,
                flat=before_flat is not None and row.created_at - before_flat <= REPEAT_WITHIN,
            )
            _remember(row, last_of_estate, last_of_flat)
        yield row, repeats


def _forget_before(last: dict[Any, dt.datetime], horizon: dt.datetime) -> None:
    for key in [key for key, at in last.items() if at < horizon]:
        del last[key]


def _flat(row: Any) -> tuple[int, str, str, str]:
    return (row.estate_id, row.building, row.unit, row.room)


def _remember(
    row: Any,
    last_of_estate: dict[int, dt.datetime],
    last_of_flat: dict[tuple[int, str, str, str], dt.datetime],
) -> None:
    last_of_estate[row.estate_id] = row.created_at
    if row.room:
        last_of_flat[_flat(row)] = row.created_at


def _groups(session: Session) -> dict[str, str]:
    return {code: group or "" for code, group in session.execute(select(Category.code, Category.group_code))}


def _sum_days(
    session: Session, first: dt.date, last: dt.date, as_of: dt.datetime, seen: LastSeen | None = None
) -> int:
    """Replace the day rows of [first, last] with sums of the cases reported on those days; returns the
    number of cases summed."""
    since, until = day_start(first), day_start(last + dt.timedelta(days=1))
    timelines = _timelines(session, since, until)
    groups = _groups(session)
    case_rows: dict[tuple[Any, ...], dict[str, int]] = {}
    estate_rows: dict[tuple[Any, ...], int] = defaultdict(int)
    summed = 0
    for row, repeats in _with_repeats(session, since, until, seen or LastSeen({}, {})):
        summed += 1
        day = local_day(row.created_at)
        sums = case_sums(row, timelines.get(row.id, Timeline()), repeats, as_of)
        key = (day, row.town_id or 0, row.category_code or "", row.source, row.status)
        into = case_rows.get(key)
        if into is None:
            case_rows[key] = sums
        else:
            for name, value in sums.items():
                into[name] += value
        if row.estate_id is not None:
            estate_rows[(day, row.estate_id, row.town_id or 0, groups.get(row.category_code or "", ""))] += 1
    for table in (case_rollup, estate_rollup):
        session.execute(delete(table).where(table.c.grain == DAY, table.c.period.between(first, last)))
    _insert(
        session,
        case_rollup,
        ({**dict(zip(("period", *CASE_KEYS), key, strict=True)), **sums} for key, sums in case_rows.items()),
    )
    _insert(
        session,
        estate_rollup,
        (
            {**dict(zip(("period", *ESTATE_KEYS), key, strict=True)), "cases": n}
            for key, n in estate_rows.items()
        ),
    )
    return summed


def _insert(session: Session, table: Any, rows: Iterable[dict[str, Any]], chunk: int = 2000) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({"grain": DAY, **row})
        if len(batch) >= chunk:
            session.execute(insert(table), batch)
            batch = []
    if batch:
        session.execute(insert(table), batch)


def _sum_period(session: Session, grain: str, finer: str, first: dt.date) -> None:
    """Replace a week's, month's or year's rows with the sums of its rows of the finer grain."""
    last = period_after(first, grain) - dt.timedelta(days=1)
    for table, keys, sums in (
        (case_rollup, CASE_KEYS, COUNTS + HISTOGRAM),
        (estate_rollup, ESTATE_KEYS, ("cases",)),
    ):
        session.execute(delete(table).where(table.c.grain == grain, table.c.period == first))
        days = and_(table.c.grain == finer, table.c.period.between(first, last))
        summed = (
            select(
                literal(grain).label("grain"),
                literal(first, Date).label("period"),
                *(table.c[key] for key in keys),
                *(func.sum(table.c[name]).label(name) for name in sums),
            )
            .where(days)
            .group_by(*(table.c[key] for key in keys))
        )
        session.execute(insert(table).from_select(["grain", "period", *keys, *sums], summed))


# --- refreshing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    days: int
    months: int
    cases: int
    full: bool

    def summary(self) -> str:
        kind = "rebuilt" if self.full else "refreshed"
        return f"statistics {kind}: {self.days} days and {self.months} months, {self.cases} cases summed"


def _spans(days: Iterable[dt.date], longest: int = CHUNK_DAYS) -> Iterator[tuple[dt.date, dt.date]]:
    """Runs of consecutive days, each at most `longest` long."""
    ordered = sorted(set(days))
    if not ordered:
        return
    first = last = ordered[0]
    for day in ordered[1:]:
        if day == last + dt.timedelta(days=1) and (day - first).days < longest:
            last = day
            continue
        yield first, last
        first = last = day
    yield first, last


def _lock_state(session: Session) -> RollupState:
    upsert(session, RollupState, {"id": STATE_ID, "days_refreshed": 0}, {"id": STATE_ID})
    state = session.scalars(select(RollupState).where(RollupState.id == STATE_ID).with_for_update()).one()
    return state


def _resum(session: Session, days: Sequence[dt.date], as_of: dt.datetime) -> tuple[int, int]:
    seen = LastSeen({}, {})  # carried from one span to the next when they follow each other
    cases = sum(_sum_days(session, first, last, as_of, seen) for first, last in _spans(days))
    months = 0
    for grain, finer in SUMMED_GRAINS:
        periods = sorted({period_start(day, grain) for day in days})
        for first in periods:
            _sum_period(session, grain, finer, first)
        if grain == MONTH:
            months = len(periods)
    return cases, months


def refresh_rollups(session: Session, as_of: dt.datetime) -> RefreshResult:
    """Sum again the days of the cases changed since the last refresh (all of them the first time). Two
    refreshes at once queue on the state row's lock. The caller commits."""
    started = as_of  # the clock the services stamp a case's updated_at with (the system clock in production)
    state = _lock_state(session)
    if state.changed_since is None:
        result = _rebuild(session, as_of)
    else:
        changed = session.scalars(
            select(Case.created_at).where(Case.updated_at >= state.changed_since - MARGIN).distinct()
        )
        days = sorted({local_day(created) for created in changed})
        cases, months = _resum(session, days, as_of)
        result = RefreshResult(len(days), months, cases, full=False)
    state.changed_since, state.refreshed_at, state.days_refreshed = started, utcnow(), result.days
    return result


def rebuild_rollups(session: Session, as_of: dt.datetime) -> RefreshResult:
    """Sum every day from the first case to the last again (after an import, or to repair). The caller commits."""
    started = as_of
    state = _lock_state(session)
    result = _rebuild(session, as_of)
    state.changed_since, state.refreshed_at, state.days_refreshed = started, utcnow(), result.days
    return result


def _rebuild(session: Session, as_of: dt.datetime) -> RefreshResult:
    for table in (case_rollup, estate_rollup):
        session.execute(delete(table))
    first, last = session.execute(select(func.min(Case.created_at), func.max(Case.created_at))).one()
    if first is None:
        return RefreshResult(0, 0, 0, full=True)
    first_day, last_day = local_day(_aware(first)), local_day(_aware(last))
    days = [first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    cases, months = _resum(session, days, as_of)
    return RefreshResult(len(days), months, cases, full=True)


def _aware(instant: dt.datetime) -> dt.datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


def refreshed_at(session: Session) -> dt.datetime | None:
    """When the summary tables were last refreshed (None: never)."""
    return session.scalar(select(RollupState.refreshed_at).where(RollupState.id == STATE_ID))


def is_stale(session: Session) -> bool:
    """Whether the summary tables were refreshed longer than STALE_AFTER ago (by the real clock, which the
    refresh's own stamp is on)."""
    last = refreshed_at(session)
    return last is None or utcnow() - last > STALE_AFTER


REFRESH_JOB = "backend.stats.jobs.refresh_summaries"


def request_refresh(session: Session) -> bool:
    """Ask for a refresh after this transaction commits when the tables are stale; says whether it did.
    On the embedded defaults the job runs in this process at the commit, so a page that commits before
    reading shows fresh figures; with Redis a worker runs it (one at a time, by its job id)."""
    if not is_stale(session):
        return False
    enqueue_after_commit(session, REFRESH_JOB, job_id="stats-refresh", retries=1)
    return True
