"""The duty cross-check in the console: the panel on a verified case, the negligence case it opens, a company's
record and the cases its findings became, and the bureau's ranking."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from backend.cases.services.filing import ReportInput, submit_report
from backend.org.models import Estate
from backend.property.models import EstateManagement, FindingAction, Patrol, PatrolFinding
from tests.support.console import case_in, login, post


@pytest.fixture
def managed(session: Session, accounts) -> Estate:
    """康虹花园, managed by the property account's company."""
    kanghong = session.scalars(select(Estate).where(Estate.name == "康虹花园")).one()
    company = accounts["property"].company
    kanghong.property_company = company
    session.add(EstateManagement(estate=kanghong, company=company, started_on=dt.date(2024, 1, 1)))
    session.commit()
    return kanghong


def test_a_squad_verifies_sees_the_check_and_opens_a_negligence_case(
    client: FlaskClient, session: Session, accounts, managed
) -> None:
    case = case_in(session, accounts, "investigating")
    login(client, accounts["officer"].username)
    assert post(client, f"/console/cases/{case.tracking_no}/do/verify").status_code == 302
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert 'data-testid="duty-check"' in page and accounts["property"].company.name in page
    opened = post(client, f"/console/cases/{case.tracking_no}/negligence")
    assert opened.status_code == 302
    negligence = session.scalars(select(Case).where(Case.category_code == "property_negligence")).one()
    assert opened.location.endswith(f"/console/cases/{negligence.tracking_no}")
    again = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert f'已立案追究物业责任：<a href="/console/cases/{negligence.tracking_no}"' in again
    twice = post(client, f"/console/cases/{case.tracking_no}/negligence")
    assert twice.status_code == 409 and "已就该工单对物业立案" in twice.get_data(as_text=True)


@pytest.mark.parametrize("who", ["other_officer", "property", "editor"])
def test_others_cannot_open_a_negligence_case(
    client: FlaskClient, session: Session, accounts, managed, who: str
) -> None:
    case = case_in(session, accounts, "verified")
    login(client, accounts[who].username)
    assert post(client, f"/console/cases/{case.tracking_no}/negligence").status_code == 403
    assert session.scalars(select(Case).where(Case.category_code == "property_negligence")).first() is None


def test_a_company_sees_its_record_and_only_the_cases_its_findings_became(
    client: FlaskClient, session: Session, accounts, managed
) -> None:
    company = accounts["property"].company
    residents_case = case_in(session, accounts, "dispatched")
    reported, _ = submit_report(
        session,
        None,
        ReportInput(
            description="巡查发现12号楼楼顶搭建彩钢板房，劝阻无效",
            category="illegal_construction",
            estate_id=managed.id,
            in_progress=False,
            source=CaseSource.PROPERTY,
        ),
    )
    patrol = Patrol(
        company_id=company.id, estate_id=managed.id, patrolled_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    )
    session.add(patrol)
    session.flush()
    session.add(
        PatrolFinding(
            patrol_id=patrol.id,
            company_id=company.id,
            estate_id=managed.id,
            category_code="illegal_construction",
            building="12",
            description="楼顶搭建彩钢板房",
            action=FindingAction.REPORTED,
            found_at=patrol.patrolled_at,
            reported_at=patrol.patrolled_at,
            case_id=reported.id,
        )
    )
    session.commit()
    login(client, accounts["property"].username)
    page = client.get("/console/duty").get_data(as_text=True)
    assert company.name in page and reported.tracking_no in page
    assert residents_case.tracking_no not in page and "13812345678" not in page
    assert client.get(f"/console/cases/{reported.tracking_no}").status_code == 403  # the squad's page


def test_the_bureau_sees_every_company_ranked_with_its_rule(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, accounts["supervisor"].username)
    page = client.get("/console/duty").get_data(as_text=True)
    assert 'data-testid="ranking"' in page and accounts["property"].company.name in page
    assert "排名先看经核查发现的失职次数" in page
    detail = client.get(f"/console/duty/{accounts['property'].company_id}")
    assert detail.status_code == 200 and 'data-testid="record"' in detail.get_data(as_text=True)
    assert client.get("/console/duty/999999").status_code == 404
