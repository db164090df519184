"""Building cases for the statistics tests with exact instants, and the figures worked out from them the
plain way (case by case, without the summary tables) to compare with what the service reads."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseEvent, CaseExtension
from backend.org.models import Estate, Squad, Town
from backend.stats.filters import PHASE_OF_MONTH, StatFilter
from backend.taxonomy.models import Category
from backend.workcalendar import SHANGHAI

_numbers = itertools.count(1)


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, e.g. at("2026-06-30 23:30")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def town(session: Session, code: str) -> Town:
    return session.scalar(select(Town).where(Town.code == code))


def squad_of(session: Session, code: str) -> Squad:
    return session.scalar(select(Squad).join(Town).where(Town.code == code))


def key_estate(session: Session, name: str) -> Estate:
    return session.scalar(select(Estate).where(Estate.name == name))


def make_case(
    session: Session,
    created: dt.datetime,
    *,
    town_code: str = "xiayang",
    estate: Estate | None = None,
    events: Iterable[tuple[str, dt.datetime, str | None]] = (),
    extensions: Iterable[str] = (),
    **fields: Any,
) -> Case:
    """A case with exactly the given columns (no workflow), its events as (action, at, from_status) and its
    extensions' statuses."""
    the_town = town(session, town_code)
    squad = session.scalar(select(Squad).where(Squad.town_id == the_town.id))
    values: dict[str, Any] = {
        "tracking_no": f"T{next(_numbers):09d}",
        "status": "submitted",
        "category_code": "illegal_construction",
        "description": "测试",
        "source": "mini_program",
        "town_id": the_town.id,
        "squad_id": squad.id if squad else None,
        "estate_id": estate.id if estate else None,
        "created_at": created,
        "updated_at": created,
        **fields,
    }
    case = Case(**values)
    session.add(case)
    session.flush()
    for action, when, from_status in events:
        session.add(
            CaseEvent(
                case_id=case.id, action=action, from_status=from_status, actor_kind="staff", created_at=when
            )
        )
    for status in extensions:
        session.add(CaseExtension(case_id=case.id, working_days=3, reason="测试", status=status))
    session.flush()
    return case


# --- the plain way --------------------------------------------------------------------------------------


def kept(session: Session, cases: Iterable[Case], flt: StatFilter) -> list[Case]:
    """The cases a filter keeps, decided case by case."""
    groups = {k: v for k, v in session.execute(select(Category.code, Category.group_code))}
    squad_town = (
        session.scalar(select(Squad.town_id).where(Squad.id == flt.squad_id)) if flt.squad_id else None
    )
    out = []
    for case in cases:
        day = case.created_at.astimezone(SHANGHAI).date()
        checks = [
            flt.start is None or day >= flt.start,
            flt.end is None or day <= flt.end,
            not flt.phases
            or (PHASE_OF_MONTH.get(day.month) and PHASE_OF_MONTH[day.month].code in flt.phases),
            flt.town_id is None or case.town_id == flt.town_id,
            flt.squad_id is None or case.town_id == squad_town,
            flt.category is None or case.category_code == flt.category,
            flt.group is None or groups.get(case.category_code or "") == flt.group,
            flt.source is None or case.source == flt.source,
        ]
        if all(checks):
            out.append(case)
    return out


def plain_counts(session: Session, cases: Iterable[Case], flt: StatFilter, attribute: str) -> Counter[str]:
    return Counter(str(getattr(case, attribute) or "") for case in kept(session, cases, flt))


def plain_rates(
    session: Session, cases: Iterable[Case], flt: StatFilter, as_of: dt.datetime
) -> dict[str, int]:
    """Signed, on time and due for signing; resolved on time and due; rated and satisfied."""
    figures: Counter[str] = Counter()
    for case in kept(session, cases, flt):
        if case.signed_at:
            figures["signed"] += 1
            figures["sign_due"] += 1
            figures["sign_on_time"] += case.signed_at <= case.sign_due_at
        elif case.status == "dispatched" and case.sign_due_at and case.sign_due_at < as_of:
            figures["sign_due"] += 1
        if case.resolved_at and case.handle_due_at:
            figures["resolve_due"] += 1
            figures["resolve_on_time"] += case.resolved_at <= case.handle_due_at
        elif (
            case.handle_due_at
            and case.status
            in {"dispatched", "signed", "investigating", "verified", "handling", "transferred"}
            and case.handle_due_at < as_of
        ):
            figures["resolve_due"] += 1
        if case.rating:
            figures["rated"] += 1
            figures["satisfied"] += case.rating in {"satisfied", "basically_satisfied"}
    return dict(figures)
