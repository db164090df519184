"""The duty cross-check of a verified case, the negligence case it can open, and the companies' records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import CaseSource, CaseStatus
from backend.cases.services.life import transition
from backend.cases.workflow import Actor, Role
from backend.errors import Conflict, Forbidden
from backend.org.models import PropertyCompany
from backend.property.duty import (
    check_duty,
    company_managing,
    compliance_of,
    compliance_ranking,
    duty_check_of,
)
from backend.property.models import (
    EstateManagement,
    FindingAction,
    Patrol,
    PatrolFinding,
    Renovation,
    RenovationStatus,
)
from backend.property.negligence import open_negligence_case
from tests.support.cases import NOW, estate, officer, report
from tests.support.property import make_company

HOUR = dt.timedelta(hours=1)


def flat_case(session: Session, user, **kw):
    """A resident's report of a rooftop shed on 康虹花园 8-2-1502 (徐泾), dispatched."""
    fields = {
        "category": "illegal_construction",
        "estate_id": estate(session, "康虹花园").id,
        "building": "8",
        "unit": "2",
        "room": "1502",
        "now": NOW,
    }
    return report(session, user, **{**fields, **kw})


def verify(session: Session, case, at: dt.datetime = NOW + 3 * HOUR) -> None:
    squad = officer(session, "xujing")
    for name in ("sign", "investigate", "verify"):
        transition(session, case, name, squad, note="现场核查" if name == "investigate" else "", now=at)


def finding(
    session: Session,
    company: PropertyCompany,
    *,
    found_at: dt.datetime,
    reported_after: dt.timedelta | None,
    building: str = "8",
    room: str = "1502",
) -> PatrolFinding:
    kanghong = estate(session, "康虹花园")
    patrol = Patrol(company_id=company.id, estate_id=kanghong.id, patrolled_at=found_at, areas=["屋顶平台"])
    session.add(patrol)
    session.flush()
    row = PatrolFinding(
        patrol_id=patrol.id,
        company_id=company.id,
        estate_id=kanghong.id,
        category_code="illegal_construction",
        building=building,
        room=room,
        description="楼顶有人搭建彩钢板房，已劝阻",
        action=FindingAction.REPORTED if reported_after is not None else FindingAction.DISSUADED,
        found_at=found_at,
        reported_at=found_at + reported_after if reported_after is not None else None,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def company(session: Session) -> PropertyCompany:
    return make_company(session, "康虹物业管理有限公司", ["康虹花园"])


def test_a_verified_case_without_registration_or_report_is_a_failure(session, resident, company) -> None:
    user, _ = resident
    case = flat_case(session, user)
    verify(session, case)
    check = duty_check_of(session, case)
    assert check is not None and check.company_id == company.id
    assert (check.registered, check.knew, check.reported_in_time, check.failed) == (False, False, None, True)
    assert "未办理装修申报登记" in check.summary and "物业未履职尽责" in check.summary
    assert [e.action for e in case.events][-2:] == ["verify", "duty_check"]
    assert not case.events[-1].public  # the squad's record, never the resident's

    squad = officer(session, "xujing")
    negligence = open_negligence_case(session, case, squad, now=NOW + 4 * HOUR)
    assert negligence.category_code == "property_negligence"
    assert negligence.source == CaseSource.INSPECTION and case.tracking_no in negligence.source_detail
    assert negligence.squad_id == case.squad_id and negligence.status == CaseStatus.DISPATCHED
    assert negligence.reporter_id is None  # the resident who reported the shed is nowhere on it
    assert check.negligence_case_id == negligence.id
    with pytest.raises(Conflict):
        open_negligence_case(session, case, squad, now=NOW + 5 * HOUR)
    record = compliance_of(session, company)
    assert (record.failures, record.negligence_cases) == (1, 1)


def test_a_report_made_in_time(session, resident, company) -> None:
    user, _ = resident
    found = finding(session, company, found_at=NOW - 30 * HOUR, reported_after=2 * HOUR)
    case = flat_case(session, user)
    verify(session, case)
    check = duty_check_of(session, case)
    assert (check.knew, check.finding_id, check.reported_in_time, check.failed) == (
        True,
        found.id,
        True,
        False,
    )
    assert "24 小时内上报" in check.summary


def test_a_report_made_late(session, resident, company) -> None:
    user, _ = resident
    finding(session, company, found_at=NOW - 60 * HOUR, reported_after=30 * HOUR)
    case = flat_case(session, user)
    verify(session, case)
    check = duty_check_of(session, case)
    assert (check.knew, check.reported_in_time, check.failed) == (True, False, True)
    assert "30 小时后才上报" in check.summary
    record = compliance_of(session, company)
    assert (record.reported, record.reported_in_time, record.reported_late) == (1, 0, 1)


def test_a_finding_never_reported_is_a_failure_and_one_elsewhere_does_not_count(
    session, resident, company
) -> None:
    user, _ = resident
    finding(session, company, found_at=NOW - 30 * HOUR, reported_after=None, building="12")
    case = flat_case(session, user)
    verify(session, case)
    assert duty_check_of(session, case).knew is False  # building 12 is another place

    dissuaded = finding(session, company, found_at=NOW - 20 * HOUR, reported_after=None)
    check = check_duty(session, case, now=NOW + 5 * HOUR)
    assert (check.finding_id, check.reported_in_time, check.failed) == (dissuaded.id, False, True)
    assert "但未上报" in check.summary


@pytest.mark.parametrize("building", ["8", "８号楼"], ids=["as registered", "as a resident writes it"])
def test_a_registered_renovation_is_found(session, resident, company, building: str) -> None:
    user, _ = resident
    session.add(
        Renovation(
            company_id=company.id,
            estate_id=estate(session, "康虹花园").id,
            building="8",
            unit="2",
            room="1502",
            owner_name="业主甲",
            owner_phone="13800000000",
            planned_start=dt.date(2026, 11, 1),
            planned_end=dt.date(2026, 12, 31),
            items=["wall_floor_ceiling"],
            status=RenovationStatus.ACCEPTED,
        )
    )
    case = flat_case(session, user, building=building)
    verify(session, case)
    check = duty_check_of(session, case)
    assert (check.registered, check.failed) == (True, False)


def test_the_company_of_the_day_of_the_report_is_checked(session, resident, company) -> None:
    user, _ = resident
    kanghong = estate(session, "康虹花园")
    successor = PropertyCompany(name="接管物业有限公司")
    session.add(successor)
    session.flush()
    current = session.scalars(select(EstateManagement).where(EstateManagement.estate_id == kanghong.id)).one()
    current.ended_on = dt.date(2026, 11, 30)
    session.add(
        EstateManagement(estate_id=kanghong.id, company_id=successor.id, started_on=dt.date(2026, 12, 1))
    )
    session.flush()
    assert company_managing(session, kanghong.id, NOW) == company  # 26 November
    assert company_managing(session, kanghong.id, NOW + dt.timedelta(days=10)) == successor
    case = flat_case(session, user)
    verify(session, case)
    assert duty_check_of(session, case).company_id == company.id


def test_an_estate_without_a_company_is_recorded_as_such(session, resident) -> None:
    user, _ = resident
    case = flat_case(session, user)
    verify(session, case)
    check = duty_check_of(session, case)
    assert check.company_id is None and not check.failed and "没有登记在册的物业" in check.summary
    with pytest.raises(Exception, match="没有物业履职检查记录"):
        open_negligence_case(session, case, officer(session, "xujing"), now=NOW + 4 * HOUR)


def test_only_the_cases_squad_or_the_bureau_opens_a_negligence_case(session, resident, company) -> None:
    user, _ = resident
    case = flat_case(session, user)
    verify(session, case)
    for actor in (officer(session, "xiayang"), Actor(Role.PROPERTY_STAFF, 1, "物业", company_id=company.id)):
        with pytest.raises(Forbidden):
            open_negligence_case(session, case, actor, now=NOW + 4 * HOUR)
    bureau = Actor(Role.SUPERVISOR, 2, "区局")
    assert (
        open_negligence_case(session, case, bureau, now=NOW + 4 * HOUR).category_code == "property_negligence"
    )


def test_the_ranking_puts_failures_last_and_says_how(session, resident, company) -> None:
    user, _ = resident
    careful = make_company(session, "认真物业有限公司", ["宜达新居"])
    finding(session, company, found_at=NOW - 60 * HOUR, reported_after=30 * HOUR)
    case = flat_case(session, user)
    verify(session, case)
    names = [r.company.name for r in compliance_ranking(session) if r.company.id in {company.id, careful.id}]
    assert names == [careful.name, company.name]
