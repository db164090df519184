"""The on-site clock of 上海市拆除违法建筑若干规定 第七条: 2 hours for construction in progress, 24 otherwise,
counted from the report, watched by the sweep beside the stage deadline, and met by the first on-site step."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseStatus
from backend.cases.services.deadlines import onsite_pending
from backend.cases.services.life import add_note, transition
from backend.cases.services.reads import InboxFilter, list_inbox
from backend.cases.supervision import SweepReport, is_overdue, overdue_cases, sweep_deadlines
from backend.cases.workflow import Actor, Role
from backend.staff.models import StaffNotice
from tests.support.cases import NOW, estate, officer, report

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
ONSITE_KINDS = ("onsite_due_soon", "onsite_overdue", "onsite_escalated")
BUREAU = Actor(Role.SUPERVISOR, 9100, "区局 督办")


def sweep(session: Session, at: dt.datetime) -> SweepReport:
    return sweep_deadlines(session, at, due_soon=4 * HOUR, escalate_after=24 * HOUR)


def onsite_kinds(result: SweepReport, case: Case) -> set[str]:
    return {kind for kind in ONSITE_KINDS if case.id in getattr(result, kind)}


def notices(session: Session, case: Case) -> list[StaffNotice]:
    query = select(StaffNotice).where(StaffNotice.case_id == case.id).order_by(StaffNotice.id)
    return list(session.scalars(query))


def building_now(session: Session, user, *, now: dt.datetime = NOW, **kw) -> Case:
    """Construction in progress on 康虹花园 (徐泾), dispatched at once to 徐泾中队."""
    fields = {
        "category": "illegal_construction",
        "estate_id": estate(session, "康虹花园").id,
        "in_progress": True,
    }
    return report(session, user, now=now, **{**fields, **kw})


def test_construction_in_progress_must_be_visited_within_two_hours_of_the_report(
    session: Session, resident
) -> None:
    user, _ = resident
    case = building_now(session, user)
    assert case.status == CaseStatus.DISPATCHED
    assert case.onsite_due_at == NOW + 2 * HOUR
    # the stage deadline is signing (a working day); the on-site clock comes first
    assert case.due_at == case.sign_due_at > NOW + 2 * HOUR
    assert case.next_due_at == NOW + 2 * HOUR
    assert onsite_pending(case)


def test_other_reports_get_24_hours_and_in_progress_only_counts_where_building_can_be_going_on(
    session: Session, resident
) -> None:
    user, _ = resident
    ordinary = report(
        session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id
    )
    assert ordinary.onsite_due_at == NOW + 24 * HOUR
    rental = report(
        session,
        user,
        category="group_rental",
        estate_id=estate(session, "康虹花园").id,
        in_progress=True,
        description="楼下那套房子隔成了十几间，现在还在住人",
    )
    assert rental.onsite_due_at == NOW + 24 * HOUR


def test_the_sweep_flags_an_unsigned_case_at_1h30_and_2h01_and_escalates_it_to_the_bureau(
    session: Session, resident
) -> None:
    user, _ = resident
    case = building_now(session, user)
    assert onsite_kinds(sweep(session, NOW + 30 * MINUTE), case) == set()  # more than half the time left
    assert onsite_kinds(sweep(session, NOW + 90 * MINUTE), case) == {"onsite_due_soon"}
    assert onsite_kinds(sweep(session, NOW + 100 * MINUTE), case) == set()  # told once
    assert onsite_kinds(sweep(session, NOW + 121 * MINUTE), case) == {"onsite_overdue"}
    assert case.status == CaseStatus.DISPATCHED  # still unsigned
    assert is_overdue(case, NOW + 121 * MINUTE)
    assert case in overdue_cases(session, NOW + 121 * MINUTE, squad_id=case.squad_id)
    assert onsite_kinds(sweep(session, NOW + 3 * HOUR), case) == set()
    assert onsite_kinds(sweep(session, NOW + 4 * HOUR + MINUTE), case) == {"onsite_escalated"}
    assert onsite_kinds(sweep(session, NOW + 30 * HOUR), case) == set()

    onsite_notices = [n for n in notices(session, case) if n.kind in ONSITE_KINDS]
    told = [(n.kind, n.for_bureau) for n in onsite_notices]
    assert told == [("onsite_due_soon", False), ("onsite_overdue", False), ("onsite_escalated", True)]
    texts = [n.text for n in onsite_notices]
    assert "须于 11月26日 12:00 前到场核查（2小时内到场）" in texts[0]
    assert "已超过到场时限（11月26日 12:00）" in texts[1]
    assert "徐泾中队" in texts[2] and "请区局督办" in texts[2]
    internal = [(e.action, e.public) for e in case.events if e.action.startswith("onsite_")]
    assert internal == [("onsite_overdue", False), ("onsite_escalated", False)]


def test_the_stage_clock_is_swept_beside_the_on_site_clock(session: Session, resident) -> None:
    user, _ = resident
    case = building_now(session, user)
    friday = case.sign_due_at
    result = sweep(session, friday)
    assert case.id in result.overdue  # signing is overdue too
    assert onsite_kinds(result, case) == {"onsite_overdue", "onsite_escalated"}


def test_investigating_with_a_field_note_stops_the_clock(session: Session, resident) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    case = building_now(session, user)
    transition(session, case, "sign", xujing, now=NOW + 20 * MINUTE)
    assert case.due_at == case.handle_due_at  # the stage is handling now
    assert case.next_due_at == NOW + 2 * HOUR  # but being on site comes first
    transition(session, case, "investigate", xujing, now=NOW + 30 * MINUTE)  # pressed in the office
    assert onsite_pending(case)
    add_note(session, case, xujing, "已到现场，楼顶正在搭建钢结构", now=NOW + 70 * MINUTE)
    assert case.onsite_at == NOW + 70 * MINUTE
    assert not onsite_pending(case)
    assert case.next_due_at == case.handle_due_at
    assert case.events[-1].data == {"onsite": True}
    assert onsite_kinds(sweep(session, NOW + 3 * HOUR), case) == set()
    assert not is_overdue(case, NOW + 3 * HOUR)


def test_a_note_before_investigating_is_not_an_on_site_step(session: Session, resident) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    case = building_now(session, user)
    transition(session, case, "sign", xujing, now=NOW + 10 * MINUTE)
    add_note(session, case, xujing, "已电话联系物业", now=NOW + 15 * MINUTE)
    assert onsite_pending(case)


def test_starting_the_investigation_with_a_note_or_a_finding_meets_the_clock(
    session: Session, resident
) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    with_note = building_now(session, user)
    transition(session, with_note, "sign", xujing, now=NOW + 10 * MINUTE)
    transition(session, with_note, "investigate", xujing, note="现场核查：正在施工", now=NOW + HOUR)
    assert with_note.onsite_at == NOW + HOUR

    found = building_now(session, user)
    transition(session, found, "sign", xujing, now=NOW + 10 * MINUTE)
    transition(session, found, "investigate", xujing, now=NOW + 20 * MINUTE)
    transition(session, found, "verify", xujing, now=NOW + 3 * HOUR)  # late, but there
    assert found.onsite_at == NOW + 3 * HOUR
    assert not onsite_pending(found)


def test_the_inbox_sorts_by_whichever_deadline_comes_first(session: Session, resident) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    ordinary = report(
        session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id
    )
    urgent = building_now(session, user, now=NOW + HOUR)
    visited = report(
        session,
        user,
        category="illegal_construction",
        estate_id=estate(session, "康虹花园").id,
        now=NOW - HOUR,
    )
    transition(session, visited, "sign", xujing, now=NOW)
    transition(session, visited, "investigate", xujing, note="已到场", now=NOW)
    page = list_inbox(session, xujing, InboxFilter(tab="all"), now=NOW + HOUR)
    order = [c.tracking_no for c in page.items]
    assert order == [urgent.tracking_no, ordinary.tracking_no, visited.tracking_no]
    overdue = list_inbox(session, xujing, InboxFilter(tab="overdue"), now=NOW + 3 * HOUR + MINUTE)
    assert [c.tracking_no for c in overdue.items] == [urgent.tracking_no]


def test_a_case_nobody_holds_tells_the_bureau(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", address="某路某号楼顶", in_progress=True)
    assert case.status == CaseStatus.SUBMITTED and case.squad_id is None
    assert onsite_kinds(sweep(session, NOW + 90 * MINUTE), case) == {"onsite_due_soon"}
    assert [(n.kind, n.for_bureau) for n in notices(session, case)] == [("onsite_due_soon", True)]


def test_a_returned_case_keeps_its_clock_and_a_transferred_one_stops(session: Session, resident) -> None:
    user, _ = resident
    xujing = officer(session, "xujing")
    returned = building_now(session, user)
    transition(session, returned, "return", xujing, reason="不属本辖区", now=NOW + 10 * MINUTE)
    assert onsite_pending(returned)
    assert onsite_kinds(sweep(session, NOW + 121 * MINUTE), returned) == {"onsite_overdue"}
    assert notices(session, returned)[-1].for_bureau  # the bureau holds it now

    transferred = building_now(session, user)
    transition(session, transferred, "sign", xujing, now=NOW + 10 * MINUTE)
    transition(session, transferred, "transfer", BUREAU, department="planning", now=NOW + 20 * MINUTE)
    assert not onsite_pending(transferred)
    assert onsite_kinds(sweep(session, NOW + 121 * MINUTE), transferred) == set()
