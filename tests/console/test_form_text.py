"""The console's forms read text as the APIs do: invisible characters removed before validation."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from tests.support.console import login, post

INTAKE = {
    "source": "squad_inspection",
    "category": "illegal_construction",
    "description": "巡查发现\u200b楼顶\u200d正在搭建彩钢板房\u2060",
    "address": "徐泾镇某小区\u202e8号楼",
    "building": "8\u202e号楼",
}


def case_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def test_an_intake_is_stored_without_invisible_characters(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_officer")
    response = post(client, "/console/intake", INTAKE)
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    case = session.scalar(select(Case).where(Case.source == CaseSource.INSPECTION).order_by(Case.id.desc()))
    assert (case.description, case.building) == ("巡查发现楼顶正在搭建彩钢板房", "8号楼")
    assert case.address == "徐泾镇某小区8号楼"


def test_an_intake_of_invisible_text_files_nothing(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_officer")
    before = case_count(session)
    response = post(client, "/console/intake", {**INTAKE, "description": "\u200b" * 20})
    assert response.status_code == 400
    assert "至少 10 个字符" in response.get_data(as_text=True)
    assert case_count(session) == before


def test_a_refused_choice_is_named_in_chinese(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_officer")
    response = post(client, "/console/intake", {**INTAKE, "source": "carrier_pigeon"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "应为以下之一：部门移送、队员巡查" in page and "squad_inspection|" not in page
