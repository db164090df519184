"""A case entered in the console about construction in progress gets the 2-hour on-site limit, and the
inbox and the case page show the on-site clock beside the stage deadline."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource, CaseStatus
from tests.support.console import login, post

HOUR = dt.timedelta(hours=1)


def intake(client: FlaskClient, **fields: str):
    return post(
        client,
        "/console/intake",
        {
            "source": "squad_inspection",
            "category": "illegal_construction",
            "description": "巡查发现楼顶有人搭建彩钢板房，现场有工人",
            "address": "徐泾镇某小区12号楼楼顶",
            **fields,
        },
    )


def latest_inspection(session: Session) -> Case:
    query = select(Case).where(Case.source == CaseSource.INSPECTION).order_by(Case.id.desc())
    return session.scalar(query.execution_options(populate_existing=True))


def test_the_in_progress_box_gives_two_hours(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_officer")
    response = intake(client, in_progress="on")
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    case = latest_inspection(session)
    assert case.status == CaseStatus.DISPATCHED and case.in_progress
    assert case.onsite_due_at - case.created_at == 2 * HOUR


def test_the_description_alone_can_say_so(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_officer")
    response = intake(client, description="巡查发现12号楼楼顶正在搭建彩钢板房，工人还在施工")
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    case = latest_inspection(session)
    assert case.in_progress and case.onsite_due_at - case.created_at == 2 * HOUR


def test_an_unticked_box_about_an_old_structure_keeps_24_hours(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    response = intake(client, description="巡查发现12号楼楼顶有一处彩钢板房，已经建好多年")
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    case = latest_inspection(session)
    assert not case.in_progress and case.onsite_due_at - case.created_at == 24 * HOUR


def test_the_inbox_and_the_case_page_show_the_on_site_clock(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    intake(client, in_progress="on")
    case = latest_inspection(session)
    inbox = client.get("/console/inbox?tab=all").get_data(as_text=True)
    assert "到场" in inbox and 'data-clock="onsite"' in inbox
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert 'data-clock="onsite"' in page and 'data-clock="stage"' in page
    assert "2小时内到场" in page
