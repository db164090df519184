"""A case's clocks: the stage deadline (signing, then handling, in working days) and the on-site clock of
上海市拆除违法建筑若干规定 第七条 (clock hours from the report), and which of them runs now."""

from __future__ import annotations

import datetime as dt

from backend.cases.models import Case, CaseStatus
from backend.taxonomy.models import Category
from backend.workcalendar import add_working_days

DEFAULT_SIGN_DAYS = 1


DEFAULT_ONSITE_HOURS = 24


DEFAULT_ONSITE_HOURS_IN_PROGRESS = 2


DEFAULT_HANDLE_DAYS = 15


def counts_as_in_progress(category: Category | None, in_progress: bool) -> bool:
    """Whether the report is of construction going on now: said (or read) so, about a category where work
    can be in progress (one with an in-progress on-site limit), or about a category not known yet."""
    return in_progress and (category is None or category.onsite_hours_in_progress is not None)


def set_deadlines(case: Case, now: dt.datetime) -> None:
    """On site within the regulation's clock hours from the report (上海市拆除违法建筑若干规定 第七条: 24
    hours, 2 for construction in progress: a weekend does not pause a builder); signing and handling in
    working days."""
    category = case.category
    onsite = (category.onsite_hours if category else None) or DEFAULT_ONSITE_HOURS
    if counts_as_in_progress(category, case.in_progress):
        onsite = (category.onsite_hours_in_progress if category else None) or DEFAULT_ONSITE_HOURS_IN_PROGRESS
    sign_days, handle_days = sign_working_days(category), handle_working_days(category)
    case.onsite_due_at = now + dt.timedelta(hours=onsite)
    case.sign_due_at = add_working_days(now, sign_days)
    case.handle_due_at = add_working_days(now, sign_days + handle_days)
    refresh_due_at(case)


def sign_working_days(category: Category | None) -> int:
    """Working days to sign for a case of `category` (the taxonomy's, or the 12345 practice's one)."""
    return (category.sign_working_days if category else None) or DEFAULT_SIGN_DAYS


def handle_working_days(category: Category | None) -> int:
    """Working days to handle a case of `category` once signed."""
    return (category.handle_working_days if category else None) or DEFAULT_HANDLE_DAYS


# The deadline of each state's stage: signing before the squad signs, handling once signed; a case in any
# other state is done and has none. Being on site is a clock of its own (see onsite_pending).
STAGE_DEADLINE = {
    CaseStatus.SUBMITTED: "sign_due_at",
    CaseStatus.DISPATCHED: "sign_due_at",
    CaseStatus.RETURNED: "sign_due_at",
    CaseStatus.SIGNED: "handle_due_at",
    CaseStatus.INVESTIGATING: "handle_due_at",
    CaseStatus.VERIFIED: "handle_due_at",
    CaseStatus.HANDLING: "handle_due_at",
    CaseStatus.TRANSFERRED: "handle_due_at",
}


# The states in which nobody may have been on site yet. The on-site clock counts from the report, so it runs
# whoever holds the case: waiting for dispatch, returned to the bureau, dispatched, signed or investigating
# until the first on-site step. A transferred, merged or withdrawn case is no longer the squad's to visit.
ONSITE_STATES = frozenset(
    {
        CaseStatus.SUBMITTED,
        CaseStatus.DISPATCHED,
        CaseStatus.SIGNED,
        CaseStatus.INVESTIGATING,
        CaseStatus.RETURNED,
    }
)


def onsite_pending(case: Case) -> bool:
    """Whether the on-site clock of 第七条 still runs: nobody has been on site and the case is still open."""
    return (
        case.onsite_due_at is not None and case.onsite_at is None and CaseStatus(case.status) in ONSITE_STATES
    )


def refresh_due_at(case: Case) -> None:
    """Point `due_at` at the current stage's deadline (STAGE_DEADLINE), and `next_due_at` at the earliest
    deadline still running: that one, or the on-site clock's while it runs."""
    deadline = STAGE_DEADLINE.get(CaseStatus(case.status))
    case.due_at = getattr(case, deadline) if deadline else None
    running = [case.due_at, case.onsite_due_at if onsite_pending(case) else None]
    case.next_due_at = min((d for d in running if d is not None), default=None)


def is_onsite_step(name: str, note: str) -> bool:
    """A step that can only be taken on site: a finding (属实 / 不属实), or starting the investigation
    with a field note."""
    return name in {"verify", "mark_unfounded"} or (name == "investigate" and bool(note.strip()))
