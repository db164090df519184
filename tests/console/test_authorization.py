"""Every console page and every case action, tried by every role: who is let in and who is refused."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases import supervision
from backend.cases.models import CaseExtension
from backend.cases.services.life import transition
from backend.cases.services.reads import get_case
from backend.org.models import Squad
from backend.staff.services import staff_actor
from tests.support.console import a_case, case_in, csrf_token, login, post

ROLES = [
    "anonymous",
    "officer",
    "leader",
    "other_officer",
    "supervisor",
    "admin",
    "editor",
    "property",
    "manager",
    "other_property",
]
SQUAD = {"officer", "leader"}
BUREAU = {"supervisor", "admin"}
WORKERS = SQUAD | BUREAU | {"other_officer"}
PROPERTY = {"property", "manager", "other_property"}  # two companies: each sees only its own on these pages

PAGES = {
    "/console/inbox": WORKERS,
    "/console/cases/{number}": SQUAD | BUREAU,
    "/console/triage": BUREAU,
    "/console/overdue": WORKERS,
    "/console/audit": BUREAU,
    "/console/users": {"admin"},
    "/console/intake": WORKERS,
    "/console/password": set(ROLES) - {"anonymous"},
    "/console/companies": BUREAU,
    "/console/company": PROPERTY,
    "/console/company/staff": {"manager"},
    "/console/binding": PROPERTY,
    "/console/renovations": BUREAU | PROPERTY,
    "/console/renovations/new": PROPERTY,
    "/console/patrols": BUREAU | PROPERTY,
    "/console/patrols/new": PROPERTY,
    "/console/duty": BUREAU | PROPERTY,
    "/console/duty/{company}": BUREAU,
    "/console/articles": BUREAU | {"editor"},
    "/console/articles/new": {"editor"},
    "/console/pushes": BUREAU | {"editor"},
    "/console/events": BUREAU | {"editor"},
    "/console/events/new": {"editor"},
    "/console/suggestions": WORKERS | {"editor"},  # a squad sees only what was forwarded to it
    "/console/stats": BUREAU | {"leader"},  # a squad leader: their own squad's figures
    "/console/stats/report": BUREAU | {"leader"},
    "/console/stats/phase": BUREAU | {"leader"},
    "/console/stats/export.csv": BUREAU | {"leader"},  # a squad leader: only their squad's cases
    "/console/stats/export.xlsx": BUREAU | {"leader"},
    "/console/api/stats": BUREAU | {"leader"},  # the statistics as JSON: a squad leader their own squad's
    "/console/api/stats/counts?by=town": BUREAU | {"leader"},
    "/console/api/stats/handling": BUREAU | {"leader"},
}

# (path under /console/cases/{number}/, the state the case must be in, the form, who may)
ACTIONS: list[tuple[str, str, dict, set[str]]] = [
    ("do/sign", "dispatched", {}, SQUAD),
    ("do/investigate", "signed", {}, SQUAD),
    ("do/verify", "investigating", {}, SQUAD),
    ("do/mark_unfounded", "investigating", {"reason": "现场未发现"}, SQUAD),
    ("do/handle", "verified", {"action": "demolition"}, SQUAD),
    ("do/resolve", "handling", {"public_reply": "已拆除"}, SQUAD),
    ("do/return", "dispatched", {"reason_code": "incomplete", "reason": "信息不全"}, SQUAD),
    ("do/transfer", "signed", {"department": "police"}, SQUAD | BUREAU),
    ("do/record_transfer_reply", "transferred", {"public_reply": "公安已处理"}, SQUAD | BUREAU),
    ("do/merge", "dispatched", {"parent": "{parent}"}, SQUAD | BUREAU),
    ("do/dispatch", "returned", {"squad": "{squad}"}, BUREAU),
    ("do/close", "resolved", {}, BUREAU),
    ("note", "dispatched", {"note": "内部备注"}, SQUAD | BUREAU),
    ("assign", "dispatched", {"assignee": "{officer2}"}, {"leader"}),
    ("category", "dispatched", {"category": "garbage_sorting"}, SQUAD | BUREAU),
    ("reveal-phone", "dispatched", {}, SQUAD | BUREAU),
    ("extension", "signed", {"working_days": "3", "reason": "需要协调住建部门"}, SQUAD),
    ("urge", "signed", {"note": "请尽快办理"}, BUREAU),
    ("supervise", "signed", {"note": "列入督办"}, BUREAU),
]


def client_as(app, role: str, accounts) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        login(client, accounts[role].username)
    return client


def fingerprint(session: Session, number: str) -> tuple:
    session.expire_all()
    case = get_case(session, number)
    return (
        case.status,
        case.squad_id,
        case.category_code,
        case.assignee_id,
        case.urge_count,
        case.supervised,
        len(case.events),
        session.scalar(select(CaseExtension.id).where(CaseExtension.case_id == case.id)),
    )


@pytest.mark.parametrize(("path", "allowed"), PAGES.items(), ids=list(PAGES))
def test_pages(app, session: Session, accounts, path: str, allowed: set[str]) -> None:
    case = a_case(session)
    for role in ROLES:
        url = path.format(number=case.tracking_no, company=accounts["property"].company_id)
        response = client_as(app, role, accounts).get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        elif role in allowed:
            assert response.status_code == 200, (path, role, response.status_code)
        else:
            assert response.status_code == 403, (path, role, response.status_code)


@pytest.mark.parametrize(("action", "state", "form", "allowed"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_case_actions(
    app, session: Session, accounts, action: str, state: str, form: dict, allowed: set[str]
) -> None:
    for role in ROLES:
        case = case_in(session, accounts, state)
        values = {
            "parent": lambda: case_in(session, accounts, "dispatched").tracking_no,
            "squad": lambda: str(session.scalar(select(Squad.id).where(Squad.code == "xujing"))),
            "officer2": lambda: str(accounts["officer2"].id),
        }
        data = {
            k: (values[v[1:-1]]() if isinstance(v, str) and v.startswith("{") else v) for k, v in form.items()
        }
        client = client_as(app, role, accounts)
        before = fingerprint(session, case.tracking_no)
        token = (
            csrf_token(client)
            if role == "anonymous"
            else csrf_token(client, "/console/overdue" if role in WORKERS else "/console/login")
        )
        response = client.post(
            f"/console/cases/{case.tracking_no}/{action}", data={**data, "csrf_token": token}
        )
        after = fingerprint(session, case.tracking_no)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (action, role)
            assert after == before
        elif role in allowed:
            assert response.status_code in {200, 302}, (
                action,
                role,
                response.status_code,
                response.get_data(as_text=True)[-300:],
            )
            if action != "reveal-phone":
                assert after != before, (action, role, "nothing changed")
        else:
            assert response.status_code == 403, (action, role, response.status_code)
            assert after == before, (action, role, "a refused action changed the case")


def test_extension_decision_is_the_bureaus(app, session: Session, accounts) -> None:
    for role in ROLES:
        case = case_in(session, accounts, "signed")
        extension = supervision.request_extension(
            session, case, staff_actor(accounts["officer"]), 3, "需要协调", case.signed_at
        )
        session.commit()
        client = client_as(app, role, accounts)
        token = csrf_token(client, "/console/overdue" if role in WORKERS else "/console/login")
        response = client.post(
            f"/console/extensions/{extension.id}/decide", data={"approve": "yes", "csrf_token": token}
        )
        session.expire_all()
        status = session.get(CaseExtension, extension.id).status
        if role in BUREAU:
            assert response.status_code == 302 and status == "approved", role
        else:
            assert response.status_code in ({302} if role == "anonymous" else {403}), (
                role,
                response.status_code,
            )
            assert status == "pending", role


def test_bulk_sign_only_for_the_squad(app, session: Session, accounts) -> None:
    for role in ROLES:
        case = case_in(session, accounts, "dispatched")
        client = client_as(app, role, accounts)
        token = csrf_token(client, "/console/overdue" if role in WORKERS else "/console/login")
        response = client.post(
            "/console/inbox/bulk", data={"action": "sign", "cases": case.tracking_no, "csrf_token": token}
        )
        session.expire_all()
        signed = get_case(session, case.tracking_no).status == "signed"
        assert signed is (role in SQUAD), (role, response.status_code)
        if role not in SQUAD | {"anonymous"}:
            assert response.status_code == 403, role


def test_an_officer_of_another_squad_cannot_see_photos_or_cases_of_this_one(
    app, session: Session, accounts
) -> None:
    case = a_case(session)
    client = client_as(app, "other_officer", accounts)
    assert client.get(f"/console/cases/{case.tracking_no}").status_code == 403
    assert case.tracking_no not in client.get("/console/inbox?tab=all").get_data(as_text=True)
    assert case.tracking_no not in client.get("/console/overdue").get_data(as_text=True)
    mine = client_as(app, "officer", accounts)
    assert case.tracking_no in mine.get("/console/inbox?tab=all").get_data(as_text=True)


def test_a_squad_neither_lists_nor_merges_into_another_squads_case_at_the_same_estate(
    app, session: Session, accounts
) -> None:
    own = a_case(session)
    other = a_case(session, description="同一小区另一处楼顶在搭阳光房，已改派夏阳中队")
    xiayang = session.scalar(select(Squad).where(Squad.code == "xiayang"))
    transition(session, other, "return", staff_actor(accounts["officer"]), reason="不属本辖区")
    transition(session, other, "dispatch", staff_actor(accounts["supervisor"]), squad=xiayang)
    session.commit()

    officer = client_as(app, "officer", accounts)
    assert other.tracking_no not in officer.get(f"/console/cases/{own.tracking_no}").get_data(as_text=True)
    bureau = client_as(app, "supervisor", accounts)
    assert other.tracking_no in bureau.get(f"/console/cases/{own.tracking_no}").get_data(as_text=True)

    merged = post(officer, f"/console/cases/{own.tracking_no}/do/merge", {"parent": other.tracking_no})
    assert merged.status_code == 400 and "没有这个工单号" in merged.get_data(
        as_text=True
    )  # not even "exists"
    session.expire_all()
    assert get_case(session, own.tracking_no).parent_id is None


def test_opening_a_negligence_case_is_the_squads_or_the_bureaus(app, session: Session, accounts) -> None:
    import datetime as dt

    from backend.cases.models import Case
    from backend.org.models import Estate
    from backend.property.models import EstateManagement

    kanghong = session.scalars(select(Estate).where(Estate.name == "康虹花园")).one()
    kanghong.property_company = accounts["property"].company
    session.add(
        EstateManagement(estate=kanghong, company=kanghong.property_company, started_on=dt.date(2024, 1, 1))
    )
    session.commit()
    for role in ROLES:
        case = case_in(session, accounts, "verified")
        client = client_as(app, role, accounts)
        token = csrf_token(client) if role == "anonymous" else csrf_token(client, "/console/password")
        response = client.post(f"/console/cases/{case.tracking_no}/negligence", data={"csrf_token": token})
        opened = session.scalars(
            select(Case).where(Case.source_detail == f"履职检查 {case.tracking_no}")
        ).first()
        if role in SQUAD | BUREAU:
            assert response.status_code == 302 and opened is not None, (role, response.status_code)
        else:
            assert response.status_code in ({302} if role == "anonymous" else {403}), (
                role,
                response.status_code,
            )
            assert opened is None, role
