"""The cases a StatFilter selects, as conditions on `case_file` that its indexes serve (for what the summary
tables do not hold: exports, what is about now, an estate's figures for one category or source)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from backend.cases.models import Case
from backend.org.models import Squad
from backend.stats.filters import StatFilter, day_start, local_day
from backend.taxonomy.models import Category


def town_ids(session: Session, flt: StatFilter) -> list[int] | None:
    """The towns the filter keeps (None: every town); a squad stands for its town."""
    towns = [flt.town_id] if flt.town_id else None
    if flt.squad_id:
        squad_town = session.scalar(select(Squad.town_id).where(Squad.id == flt.squad_id))
        towns = [t for t in (towns or [squad_town]) if t == squad_town] if squad_town else []
    return towns


def category_codes(session: Session, flt: StatFilter) -> list[str] | None:
    """The categories the filter keeps (None: every category, and cases with none)."""
    if flt.category:
        return [flt.category]
    if flt.group:
        return list(session.scalars(select(Category.code).where(Category.group_code == flt.group)))
    return None


def reported_in(session: Session, flt: StatFilter) -> ColumnElement[bool]:
    """The filter's days as ranges of created_at: one range, or one per phase and year (an open end with
    phases is closed at the first or last case)."""
    if not flt.phases:
        return _between(*flt.instants())
    if flt.start is None or flt.end is None:
        first, last = session.execute(select(func.min(Case.created_at), func.max(Case.created_at))).one()
        if first is None:
            return false()
        flt = flt.bounded(local_day(first), local_day(last))
    ranges = [_between(day_start(a), day_start(b + dt.timedelta(days=1))) for a, b in flt.spans()]
    return or_(false(), *ranges)


def _between(since: dt.datetime | None, before: dt.datetime | None) -> ColumnElement[bool]:
    bounds = []
    if since is not None:
        bounds.append(Case.created_at >= since)
    if before is not None:
        bounds.append(Case.created_at < before)
    return and_(true(), *bounds)


def key_conditions(
    session: Session, flt: StatFilter, town: Any, category: Any, source: Any
) -> list[ColumnElement[bool]]:
    """The filter's town (or squad), category (or group) and source as conditions on the given columns: the
    cases' own, or a summary table's."""
    conditions: list[ColumnElement[bool]] = []
    towns, categories = town_ids(session, flt), category_codes(session, flt)
    if towns is not None:
        conditions.append(town.in_(towns))
    if categories is not None:
        conditions.append(category.in_(categories))
    if flt.source:
        conditions.append(source == flt.source)
    return conditions


def case_conditions(session: Session, flt: StatFilter) -> list[ColumnElement[bool]]:
    """Every condition of the filter on the cases."""
    return [
        reported_in(session, flt),
        *key_conditions(session, flt, Case.town_id, Case.category_code, Case.source),
    ]
