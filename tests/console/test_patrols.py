"""Patrols in the console, without a browser: a company files a patrol whose reported finding reaches the
squad's inbox, follows the case's public status and reply, puts a finding right or reports it; its refused
forms come back with what was typed; and every new page against every role, another company's staff included."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.cases.models import Case
from backend.cases.services.life import add_note, transition
from backend.clock import MovableClock
from backend.property.models import EstateManagement, FindingAction, Patrol, PatrolFinding
from backend.property.patrols import FindingInput, PatrolInput, file_patrol
from backend.staff.models import StaffUser
from backend.staff.services import staff_actor
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI
from tests.support.console import csrf_token, login
from tests.support.mp_api import png_bytes
from tests.support.property import estate_named, make_company, make_property_staff

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)
COMPANY = "测试物业服务有限公司"  # the company of the `accounts` fixture's property staff


@pytest.fixture
def clock(app, monkeypatch) -> MovableClock:
    clock = MovableClock(NOW)
    monkeypatch.setitem(app.extensions, "clock", clock)
    return clock


@pytest.fixture
def company(session: Session, accounts) -> StaffUser:
    """The `accounts` fixture's property staff, whose company manages 康虹花园 (徐泾); returns the staff."""
    staff = accounts["property"]
    estate = estate_named(session, "康虹花园")
    estate.property_company = staff.company
    session.add(EstateManagement(estate=estate, company=staff.company, started_on=dt.date(2024, 1, 1)))
    session.commit()
    return staff


@pytest.fixture
def other_company(session: Session) -> StaffUser:
    """Staff of another company, managing 新华联雅苑."""
    staff = make_property_staff(session, make_company(session, "另一家物业有限公司", ["新华联雅苑"]))
    session.commit()
    return staff


def send(client: FlaskClient, path: str, data: dict | None = None, **kw) -> TestResponse:
    """A console form posted with the CSRF token of a page every signed-in role may open."""
    token = csrf_token(client, "/console/password")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def patrol_form(session: Session, **overrides: object) -> dict:
    return {
        "estate_id": str(estate_named(session, "康虹花园").id),
        "patrolled_at": "2026-11-26T09:30",
        "areas": ["楼道", "屋顶平台"],
        "other_areas": "1-12号楼、地面停车场",
        "finding_count": "3",
        "findings.0.category": "illegal_construction",
        "findings.0.action": "reported",
        "findings.0.building": "12号楼",
        "findings.0.unit": "2",
        "findings.0.room": "1502",
        "findings.0.description": "露台正在搭建彩钢板房，劝阻无效",
        "findings.0.photos": [
            (io.BytesIO(png_bytes("red")), "a.png"),
            (io.BytesIO(png_bytes("blue")), "b.png"),
        ],
        "findings.1.category": "common_area_occupation",
        "findings.1.action": "dissuaded",
        "findings.1.building": "3",
        "findings.1.common_area": "楼道",
        "findings.1.description": "3号楼楼道堆放大量纸箱杂物，已劝阻",
        "findings.2.category": "",  # a block left blank is not a finding
        **overrides,
    }


def a_patrol(session: Session, staff: StaffUser, *actions: str, at: dt.datetime = NOW) -> Patrol:
    """A patrol of 康虹花园 filed through the service, one finding per action, committed."""
    findings = [
        FindingInput(
            category="illegal_construction",
            description=f"{n + 1}号楼露台搭建彩钢板房，已{action}",
            action=FindingAction(action),
            building=str(n + 1),
        )
        for n, action in enumerate(actions)
    ]
    data = PatrolInput(estate_id=estate_named(session, "康虹花园").id, areas=["楼道"], findings=findings)
    patrol, _ = file_patrol(session, staff_actor(staff), data, now=at)
    session.commit()
    return patrol


# --------------------------------------------------------------------------------------- the flow


def test_a_patrol_whose_finding_reaches_the_squads_inbox_and_comes_back_with_the_public_reply(
    client: FlaskClient, session: Session, accounts, company: StaffUser, clock: MovableClock
) -> None:
    login(client, company.username)
    assert "巡查记录" in client.get("/console/patrols").get_data(as_text=True)
    form = client.get("/console/patrols/new").get_data(as_text=True)
    assert 'name="findings.2.description"' in form and "康虹花园" in form
    response = send(client, "/console/patrols", patrol_form(session), content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    page = client.get(response.location).get_data(as_text=True)
    assert "已提交巡查记录，1 条发现已上报城管" in page

    patrol = session.scalars(select(Patrol).where(Patrol.company_id == company.company_id)).one()
    assert patrol.patrolled_at == dt.datetime(2026, 11, 26, 9, 30, tzinfo=SHANGHAI)
    assert patrol.areas == ["楼道", "屋顶平台", "1-12号楼", "地面停车场"]
    reported, dissuaded = patrol.findings  # the blank third block was skipped
    assert (reported.building, reported.room) == ("12", "1502") and len(reported.photo_ids) == 2
    case = session.get_one(Case, reported.case_id)
    assert case.squad.name == "徐泾中队" and case.source_detail == COMPANY
    assert case.in_progress and case.onsite_due_at == NOW + 2 * HOUR  # 正在搭建: two hours
    assert f"已上报城管：工单 {case.tracking_no}" in page
    assert "2026-11-27 09:30 前未整改将上报城管" in page  # 劝阻: 24 hours from the patrol time
    assert all(f"/console/patrols/photos/{p}" in page for p in reported.photo_ids)
    assert client.get(f"/console/patrols/photos/{reported.photo_ids[0]}").status_code == 200

    # the squad finds it in its inbox, with the company's photos
    officer = login(FlaskClient(client.application), accounts["officer"].username)
    assert case.tracking_no in officer.get("/console/inbox?tab=all").get_data(as_text=True)
    case_page = officer.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert "物业上报" in case_page and COMPANY in case_page
    assert officer.get(f"/console/photos/{reported.photo_ids[0]}").status_code == 200

    # the squad handles it: the company reads the public status and reply, never the internal note
    squad = staff_actor(accounts["officer"])
    for step in ("sign", "investigate", "verify"):
        transition(session, case, step, squad, now=NOW + HOUR)
    add_note(session, case, squad, "内部备注：业主情绪激动，联系了居委会", now=NOW + HOUR)
    transition(
        session,
        case,
        "resolve",
        squad,
        public_reply="已责令当事人自行拆除，现场已恢复原状",
        now=NOW + 2 * HOUR,
    )
    session.commit()
    page = client.get(f"/console/patrols/{patrol.id}").get_data(as_text=True)
    assert "已办结" in page and "已责令当事人自行拆除，现场已恢复原状" in page
    assert "内部备注" not in page and "居委会" not in page
    assert f'href="/console/cases/{case.tracking_no}"' not in page  # the case page is the squad's

    # the dissuaded finding is put right in time: no case, ever
    clock.advance(3 * HOUR)
    done = send(client, f"/console/patrols/findings/{dissuaded.id}/rectify")
    assert done.status_code == 302
    assert "已标记为已整改" in client.get(done.location).get_data(as_text=True)
    session.expire_all()
    assert session.get_one(PatrolFinding, dissuaded.id).rectified_at == NOW + 3 * HOUR


def test_report_now_and_a_refused_action_shows_the_page_again_with_why(
    client: FlaskClient, session: Session, company: StaffUser, clock: MovableClock
) -> None:
    patrol = a_patrol(session, company, "dissuaded", "stopped")
    first, second = patrol.findings
    login(client, company.username)
    clock.advance(HOUR)
    reported = send(client, f"/console/patrols/findings/{first.id}/report")
    assert reported.status_code == 302
    session.expire_all()
    number = session.scalar(
        select(Case.tracking_no).where(Case.id == session.get_one(PatrolFinding, first.id).case_id)
    )
    assert f"已上报城管：工单 {number}" in client.get(reported.location).get_data(as_text=True)

    refused = send(client, f"/console/patrols/findings/{first.id}/rectify")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert f"该发现已上报为工单 {number}，整改情况请在工单办理中跟进" in html
    assert 'role="alert">该发现已上报为工单' in html  # said beside the finding it is about

    clock.set(NOW + 25 * HOUR)  # past 24 hours: too late to say it was put right; it is reported
    late = send(client, f"/console/patrols/findings/{second.id}/rectify")
    assert late.status_code == 409 and "超过 24 小时未整改" in late.get_data(as_text=True)
    page = client.get(f"/console/patrols/{patrol.id}").get_data(as_text=True)
    assert "超过 24 小时未整改，正在上报城管" in page and "劝阻无效，立即上报" in page


def test_a_refused_patrol_form_comes_back_with_what_was_typed_and_why(
    client: FlaskClient, session: Session, company: StaffUser, clock: MovableClock
) -> None:
    login(client, company.username)
    typed = patrol_form(
        session,
        areas=[""],  # the form's hidden field: no area ticked
        other_areas="",
        **{"findings.1.description": "太乱了", "findings.0.photos": [(io.BytesIO(b"not an image"), "x.png")]},
    )
    refused = send(client, "/console/patrols", typed, content_type="multipart/form-data")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "未能提交，请按红字提示修改" in html
    assert "请填写巡查区域" in html
    assert re.search(
        r'name="findings.1.description">太乱了</textarea><span class="field-error">至少 10 个字符', html
    )
    assert "露台正在搭建彩钢板房，劝阻无效" in html  # what was typed in the other block is kept
    assert "刚才选择的照片未能保留，请重新选择" in html
    assert session.scalars(select(Patrol).where(Patrol.company_id == company.company_id)).all() == []

    # the service's reason about a finding is put beside the block it came from, a blank block before it
    moved = patrol_form(
        session,
        **{
            "findings.0.category": "",
            "findings.0.action": "",
            "findings.0.building": "",
            "findings.0.unit": "",
            "findings.0.room": "",
            "findings.0.description": "",
            "findings.0.photos": [],
            "findings.1.building": "",
            "findings.1.common_area": "",
        },
    )
    refused = send(client, "/console/patrols", moved, content_type="multipart/form-data")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    start = html.index('name="findings.1.building"')
    assert "或选择公共部位" in html[start : html.index("</fieldset>", start)]

    too_old = send(
        client,
        "/console/patrols",
        patrol_form(session, patrolled_at="2026-11-10T09:00"),
        content_type="multipart/form-data",
    )
    assert too_old.status_code == 400 and "只能补录 7 天内的巡查记录" in too_old.get_data(as_text=True)


def test_the_bureau_reads_every_companys_patrols_and_acts_on_none(
    app, session: Session, accounts, company: StaffUser, other_company: StaffUser, clock: MovableClock
) -> None:
    own = a_patrol(session, company, "dissuaded")
    bureau = login(app.test_client(), accounts["supervisor"].username)
    listed = bureau.get("/console/patrols").get_data(as_text=True)
    assert f'data-patrol="{own.id}"' in listed and COMPANY in listed
    page = bureau.get(f"/console/patrols/{own.id}").get_data(as_text=True)
    assert "标记已整改" not in page and "立即上报" not in page and COMPANY in page
    filtered = bureau.get(f"/console/patrols?company={other_company.company_id}").get_data(as_text=True)
    assert f'data-patrol="{own.id}"' not in filtered


# ------------------------------------------------------------------------------------ who may use what

ROLES = ["anonymous", "officer", "leader", "supervisor", "admin", "editor", "property", "other_property"]
READERS = {"property", "other_property", "supervisor", "admin"}


def client_as(app, role: str, accounts, other: StaffUser) -> FlaskClient:
    client = app.test_client()
    if role == "other_property":
        login(client, other.username)
    elif role != "anonymous":
        login(client, accounts[role].username)
    return client


def test_every_patrol_page_against_every_role(
    app, session: Session, accounts, company: StaffUser, other_company: StaffUser, clock: MovableClock
) -> None:
    patrol = a_patrol(session, company, "dissuaded")
    photo = Upload(
        id=uuid.uuid4().hex,
        owner_id=None,
        blob_key="none.png",
        content_type="image/png",
        size=1,
        width=1,
        height=1,
    )
    session.add(photo)
    patrol.findings[0].photo_ids = [photo.id]
    session.commit()
    pages = {  # GET: who is let in (others: 403, anonymous to the login); 404 for another company's record
        "/console/patrols": (READERS, set()),
        "/console/patrols/new": ({"property", "other_property"}, set()),
        f"/console/patrols/{patrol.id}": ({"property", "supervisor", "admin"}, {"other_property"}),
        f"/console/patrols/photos/{photo.id}": ({"supervisor", "admin", "property"}, {"other_property"}),
    }
    app.extensions["storage"].put("none.png", png_bytes())
    for path, (allowed, hidden) in pages.items():
        for role in ROLES:
            response = client_as(app, role, accounts, other_company).get(path)
            if role == "anonymous":
                assert response.status_code == 302 and "/console/login" in response.location, (path, role)
            elif role in allowed:
                assert response.status_code == 200, (path, role, response.status_code)
            elif role in hidden:
                assert response.status_code == 404, (path, role, response.status_code)
            else:
                assert response.status_code == 403, (path, role, response.status_code)


@pytest.mark.parametrize("action", ["rectify", "report"])
def test_every_finding_action_against_every_role(
    app,
    session: Session,
    accounts,
    company: StaffUser,
    other_company: StaffUser,
    clock: MovableClock,
    action: str,
) -> None:
    for role in ROLES:
        finding = a_patrol(session, company, "dissuaded").findings[0]
        client = client_as(app, role, accounts, other_company)
        token = csrf_token(client, "/console/login" if role == "anonymous" else "/console/password")
        response = client.post(f"/console/patrols/findings/{finding.id}/{action}", data={"csrf_token": token})
        session.expire_all()
        after = session.get_one(PatrolFinding, finding.id)
        changed = after.rectified_at is not None or after.case_id is not None
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, role
        elif role == "property":
            assert response.status_code == 302 and changed, (role, response.status_code)
            continue
        elif role == "other_property":
            assert response.status_code == 404, (role, response.status_code)
        else:
            assert response.status_code == 403, (role, response.status_code)
        assert not changed, (role, "a refused action changed the finding")


def test_filing_against_every_role(
    app, session: Session, accounts, company: StaffUser, other_company: StaffUser, clock: MovableClock
) -> None:
    patrols = select(Patrol).where(Patrol.estate_id == estate_named(session, "康虹花园").id)
    for role in ROLES:
        before = session.scalars(patrols).all()
        client = client_as(app, role, accounts, other_company)
        token = csrf_token(client, "/console/login" if role == "anonymous" else "/console/password")
        form = {**patrol_form(session), "csrf_token": token}
        form.pop("findings.0.photos")
        response = client.post("/console/patrols", data=form)
        filed = [p for p in session.scalars(patrols) if p not in before]
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, role
        elif role == "property":
            assert response.status_code == 302 and len(filed) == 1, (role, response.status_code)
            continue
        elif role == "other_property":  # 康虹花园 is not theirs to patrol
            assert response.status_code == 400 and "请选择巡查时本公司管理的小区" in response.get_data(
                as_text=True
            )
        else:
            assert response.status_code == 403, (role, response.status_code)
        assert filed == [], role
