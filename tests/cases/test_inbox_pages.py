"""The inbox's pages: the soonest running deadline first, the more urgent and then the older at the same
deadline, the cases without one (closed) last, whichever page a case falls on, and each tab counted in full.
(list_inbox reads the cases with a deadline and those without apart, in its index's order: see its doc.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseStatus
from backend.cases.services.life import transition
from backend.cases.services.reads import InboxFilter, list_inbox
from backend.cases.workflow import Actor, Role
from backend.org.models import Estate
from tests.support.cases import NOW, estate, officer, report, squad

HOUR = dt.timedelta(hours=1)
BUREAU = Actor(Role.SUPERVISOR, 9100, "区局 督办")


def _reports(session: Session, user, count: int, where: str = "康虹花园") -> list[Case]:
    estate_id = estate(session, where).id
    return [
        report(session, user, category="illegal_construction", estate_id=estate_id, now=NOW + i * HOUR)
        for i in range(count)
    ]


def _in_order(cases: list[Case]) -> list[str]:
    """The inbox's order, written out: no running deadline last, then the deadline, the priority (higher first),
    the id."""
    ordered = sorted(cases, key=lambda c: (c.next_due_at is None, c.next_due_at or NOW, -c.priority, c.id))
    return [c.tracking_no for c in ordered]


def _read_page_by_page(
    session: Session, actor: Actor, tab: str, per_page: int, **kw
) -> tuple[list[str], int]:
    numbers: list[str] = []
    totals = set()
    for page in range(1, 20):
        found = list_inbox(session, actor, InboxFilter(tab=tab), now=NOW, page=page, per_page=per_page, **kw)
        numbers += [c.tracking_no for c in found.items]
        totals.add(found.total)
    assert len(totals) == 1  # every page, even past the end, counts them all
    return numbers, totals.pop()


def test_every_page_follows_the_inbox_order_across_cases_with_and_without_a_deadline(
    session: Session, resident
) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    cases = _reports(session, user, 10)
    # three share a deadline, of three priorities; three are closed (no deadline runs), of two priorities
    for case, priority in zip(cases[:3], (0, 2, 1), strict=True):
        case.next_due_at, case.priority = NOW + 30 * HOUR, priority
    for case, priority in zip(cases[-3:], (0, 1, 0), strict=True):
        case.status, case.due_at, case.next_due_at, case.priority = CaseStatus.CLOSED, None, None, priority
    session.flush()
    expected = _in_order(cases)
    assert expected[-3:] == [cases[-2].tracking_no, cases[-3].tracking_no, cases[-1].tracking_no]
    for per_page in (1, 2, 3, 4, 7, 50):  # pages wholly before, across and past the closed ones
        assert _read_page_by_page(session, xujing, "all", per_page) == (expected, len(cases)), per_page


def test_each_tab_holds_its_own_cases(session: Session, resident) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    waiting, signed, closed = _reports(session, user, 3)
    transition(session, signed, "sign", xujing, now=NOW + 4 * HOUR)
    closed.status, closed.due_at, closed.next_due_at = CaseStatus.CLOSED, None, None
    session.flush()
    assert _read_page_by_page(session, xujing, "to_sign", 1) == ([waiting.tracking_no], 1)
    assert _read_page_by_page(session, xujing, "in_progress", 1) == ([signed.tracking_no], 1)
    assert _read_page_by_page(session, xujing, "all", 2) == (_in_order([waiting, signed, closed]), 3)
    assert _read_page_by_page(session, xujing, "bogus", 2) == ([waiting.tracking_no], 1)  # to_sign


def test_the_bureau_reads_every_squad_or_one(session: Session, resident) -> None:
    user, _ = resident
    xujing_cases = _reports(session, user, 2)
    xujing = squad(session, "xujing")
    elsewhere = session.scalar(select(Estate).where(Estate.town_id != xujing.town_id).order_by(Estate.id))
    assert elsewhere is not None
    other = _reports(session, user, 1, elsewhere.name)
    assert other[0].squad_id not in {None, xujing.id}
    everyone = _in_order([*xujing_cases, *other])
    assert _read_page_by_page(session, BUREAU, "all", 2) == (everyone, 3)
    assert _read_page_by_page(session, BUREAU, "all", 1, squad_id=xujing.id) == (_in_order(xujing_cases), 2)
