"""Renovation registrations in the console: a company's staff register one against the checklist, follow it to
the end and print its notice; a refused form keeps what was typed; the bureau reads without the owner; and
every page and action against every role, staff of another company included."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.property.models import Renovation
from backend.property.renovations import PermitInput, attach_permit, start_renovation
from backend.staff.models import StaffUser
from backend.staff.services import staff_actor
from tests.support.console import csrf_token, login
from tests.support.mp_api import png_bytes
from tests.support.property import estate_named, make_company, make_property_staff
from tests.support.renovations import checklist, codes_of, register

TODAY = dt.date.today()  # the console's clock is the system's
START, END = TODAY + dt.timedelta(days=3), TODAY + dt.timedelta(days=60)
OWNER, OWNER_PHONE, CREW_PHONE = "王秀英", "13812345678", "13987654321"


@dataclass
class Companies:
    mine: StaffUser  # staff of the company managing 康虹花园
    other: StaffUser  # staff of another company, managing 宜达新居


@pytest.fixture
def companies(session: Session, accounts) -> Companies:
    mine = make_property_staff(session, make_company(session, "安居物业", ["康虹花园"]), name="李管家")
    other = make_property_staff(session, make_company(session, "邻家物业", ["宜达新居"]), name="赵管家")
    session.commit()
    return Companies(mine, other)


def form(session: Session, **overrides: object) -> dict:
    return {
        "estate_id": str(estate_named(session, "康虹花园").id),
        "building": "12号楼",
        "unit": "2",
        "room": "1502",
        "owner_name": OWNER,
        "owner_phone": OWNER_PHONE,
        "contractor": "青浦安居装饰工程队",
        "contractor_phone": CREW_PHONE,
        "planned_start": START.isoformat(),
        "planned_end": END.isoformat(),
        "items": ["water_electric", "gas_pipes"],
        **overrides,
    }


def send(client: FlaskClient, path: str, data: dict | None = None, **kw: object):
    token = csrf_token(client, "/console/password")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Renovation.id))) or 0


def test_a_manager_registers_attaches_the_permit_follows_the_work_and_prints_the_notice(
    client: FlaskClient, session: Session, companies: Companies
) -> None:
    login(client, companies.mine.username)
    home = client.get("/console/renovations").get_data(as_text=True)
    assert "/console/renovations/new" in home and ">装修登记</a>" in home  # the nav link and the new form

    page = client.get("/console/renovations/new").get_data(as_text=True)
    for verdict in ("forbidden", "permit", "allowed"):
        group = re.search(rf'data-verdict="{verdict}".*?(?=data-verdict=|</fieldset>)', page, re.S).group(0)
        assert all(f'value="{code}"' in group for code in codes_of(verdict)), verdict
    assert "禁止</span>" in page and "须审批</span>" in page and "可以施工</span>" in page
    assert "燃气管道改装同意书" in page and "住宅室内装饰装修管理办法" in page

    created = send(client, "/console/renovations", form(session))
    assert created.status_code == 302
    renovation = session.scalars(select(Renovation).order_by(Renovation.id.desc())).first()
    detail = client.get(created.location).get_data(as_text=True)
    assert "待补审批" in detail and "待补审批文件" in detail and OWNER in detail and CREW_PHONE in detail
    assert renovation.building == "12" and renovation.status == "waiting_permit"
    assert "打印装修告知书" not in detail
    assert client.get(f"/console/renovations/{renovation.id}/notice").status_code == 409

    attached = send(
        client,
        f"/console/renovations/{renovation.id}/permits/gas_pipes",
        {
            "item": "gas_pipes",
            "number": "RQ-2026-017",
            "authority": "上海燃气青浦分公司",
            "scan": (io.BytesIO(png_bytes()), "permit.png"),
        },
    )
    assert attached.status_code == 302
    detail = client.get(attached.location).get_data(as_text=True)
    assert "已登记" in detail and "RQ-2026-017" in detail and "审批齐全，予以登记" in detail
    scan = re.search(r'href="(/console/renovations/\d+/scans/[0-9a-f]{32})"', detail).group(1)
    image = client.get(scan)
    assert image.status_code == 200 and image.mimetype == "image/png"

    notice = client.get(f"/console/renovations/{renovation.id}/notice")
    text = notice.get_data(as_text=True)
    assert notice.status_code == 200
    assert "装修告知书" in text and "@media print" in text and "size: A4" in text
    assert OWNER in text and "康虹花园" in text and "12号楼2单元1502室" in text
    assert "户内水电线路改造" in text and "RQ-2026-017" in text
    forbidden = re.search(r'data-testid="forbidden".*?</section>', text, re.S).group(0)
    for item in checklist().items:
        assert (f'data-item="{item.code}"' in forbidden) is (item.verdict == "forbidden"), item.code
    assert all(duty in text for duty in checklist().owner_duties + checklist().contractor_duties)
    assert "安居物业" in text and "021-59720000" in text and "张经理" in text

    assert send(client, f"/console/renovations/{renovation.id}/complete").status_code == 409  # not started
    assert send(client, f"/console/renovations/{renovation.id}/start", {"note": "进场"}).status_code == 302
    assert send(client, f"/console/renovations/{renovation.id}/complete").status_code == 302
    record = client.get(f"/console/renovations/{renovation.id}").get_data(as_text=True)
    events = re.findall(r'data-event="(\w+)"', record)
    assert events == ["submit", "wait_permit", "permit", "accept", "start", "complete"]
    assert "已完工" in record and "李管家" in record and "系统" in record


def test_a_refused_registration_shows_its_reasons_and_is_filed_again_without_them(
    client: FlaskClient, session: Session, companies: Companies
) -> None:
    login(client, companies.mine.username)
    created = send(
        client, "/console/renovations", form(session, items=["wall_floor_ceiling", "load_bearing_structure"])
    )
    page = client.get(created.location).get_data(as_text=True)
    assert "不予登记" in page and "申报中有禁止的项目" in page
    reasons = re.search(r'data-testid="refusal".*?</section>', page, re.S).group(0)
    item = checklist().by_code["load_bearing_structure"]
    assert item.name in reasons and item.reason in reasons and "第五条" in reasons
    assert "墙面、地面、吊顶装饰" not in reasons
    again = re.search(r'href="(/console/renovations/new\?from=\d+)"', page).group(1)
    refill = client.get(again).get_data(as_text=True)
    assert f'value="{OWNER}"' in refill and 'value="12"' in refill
    assert re.search(r'value="wall_floor_ceiling"\s+checked', refill)
    assert not re.search(r'value="load_bearing_structure"\s+checked', refill)


def test_a_refused_form_keeps_what_was_typed(
    client: FlaskClient, session: Session, companies: Companies
) -> None:
    login(client, companies.mine.username)
    before = count(session)
    refused = send(
        client, "/console/renovations", form(session, owner_phone="12345", items=["partition_wall"])
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and count(session) == before
    assert f'value="{OWNER}"' in page and 'value="12号楼"' in page and 'value="12345"' in page
    assert re.search(r'value="partition_wall"\s+checked', page)
    assert re.search(r'name="owner_phone"[^>]*>\s*<span class="field-error">应为 11 位手机号', page)
    assert "未能提交，请按红字提示修改" in page

    # the form's hidden, empty "items" is sent when no box is ticked: the reason goes beside the checklist
    nothing = send(client, "/console/renovations", form(session, items=[""]))
    page = nothing.get_data(as_text=True)
    assert (
        nothing.status_code == 400
        and "请至少选择一项装修项目" in page
        and "未能提交，请按红字提示修改" in page
    )

    backwards = send(client, "/console/renovations", form(session, planned_end=TODAY.isoformat()))
    assert backwards.status_code == 400 and "完工日期不能早于开工日期" in backwards.get_data(as_text=True)
    assert count(session) == before


def test_a_refused_permit_keeps_its_number(
    client: FlaskClient, session: Session, companies: Companies
) -> None:
    renovation = register(
        session, staff_actor(companies.mine), items=["gas_pipes", "heating_pipes"], now=_now()
    )
    session.commit()
    login(client, companies.mine.username)
    refused = send(
        client,
        f"/console/renovations/{renovation.id}/permits/gas_pipes",
        {
            "item": "gas_pipes",
            "number": "RQ-9",
            "authority": "上海燃气",
            "scan": (io.BytesIO(b"not a picture"), "permit.png"),
        },
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'value="RQ-9"' in page
    form_html = re.search(r'data-permit="gas_pipes".*?</form>', page, re.S).group(0)
    assert 'class="field-error"' in form_html
    session.expire_all()
    assert session.get(Renovation, renovation.id).permits == []


def test_the_bureau_reads_every_company_without_the_owner(
    app, session: Session, companies: Companies, accounts
) -> None:
    renovation = register(session, staff_actor(companies.mine), items=["gas_pipes"], now=_now())
    attach_permit(
        session,
        staff_actor(companies.mine),
        renovation.id,
        PermitInput("gas_pipes", "RQ-5", "燃气"),
        now=_now(),
    )
    session.commit()
    bureau = app.test_client()
    login(bureau, accounts["supervisor"].username)
    listed = bureau.get("/console/renovations").get_data(as_text=True)
    assert f'data-renovation="{renovation.id}"' in listed and "安居物业" in listed and "仅物业可见" in listed
    assert ">装修登记</a>" in listed
    for page in (listed, bureau.get(f"/console/renovations/{renovation.id}").get_data(as_text=True)):
        assert OWNER not in page and OWNER_PHONE not in page and CREW_PHONE not in page
    detail = bureau.get(f"/console/renovations/{renovation.id}").get_data(as_text=True)
    assert "RQ-5" in detail and "青浦安居装饰工程队" in detail and "仅物业公司可见" in detail
    assert "<form" not in detail.split("</header>", 1)[1]  # read-only: no action on the page
    other = app.test_client()
    login(other, companies.other.username)
    assert f'data-renovation="{renovation.id}"' not in other.get("/console/renovations").get_data(
        as_text=True
    )


def test_the_list_filters_by_status_flat_and_for_the_bureau_company(
    app, session: Session, companies: Companies, accounts
) -> None:
    mine, theirs = staff_actor(companies.mine), staff_actor(companies.other)
    accepted = register(session, mine, room="1502", now=_now())
    waiting = register(session, mine, room="801", items=["gas_pipes"], now=_now())
    other = register(session, theirs, estate="宜达新居", now=_now())
    session.commit()
    client = app.test_client()
    login(client, companies.mine.username)

    def listed(client: FlaskClient, query: str) -> list[int]:
        page = client.get(f"/console/renovations?{query}").get_data(as_text=True)
        return [int(i) for i in re.findall(r'data-renovation="(\d+)"', page)]

    assert listed(client, "") == [waiting.id, accepted.id]
    assert listed(client, "status=waiting_permit") == [waiting.id]
    assert listed(client, "building=12号楼&unit=2单元&room=1502室") == [accepted.id]
    assert listed(client, "status=nonsense") == [waiting.id, accepted.id]  # no filter, not an error
    bureau = app.test_client()
    login(bureau, accounts["admin"].username)
    assert set(listed(bureau, "")) >= {accepted.id, waiting.id, other.id}
    assert listed(bureau, f"company={theirs.company_id}") == [other.id]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------- who may use what

ROLES = ["anonymous", "officer", "leader", "supervisor", "admin", "editor", "property", "other_property"]
BUREAU = {"supervisor", "admin"}
PROPERTY = {"property", "other_property"}


def client_as(app, role: str, accounts, companies: Companies) -> FlaskClient:
    client = app.test_client()
    username = {"property": companies.mine.username, "other_property": companies.other.username}.get(role)
    if role != "anonymous":
        login(client, username or accounts[role].username)
    return client


# path, then the status each role gets (a role not named gets 403; anonymous is sent to log in)
PAGES: dict[str, dict[str, int]] = {
    "/console/renovations": {"supervisor": 200, "admin": 200, "property": 200, "other_property": 200},
    "/console/renovations/new": {"property": 200, "other_property": 200},
    "/console/renovations/{id}": {"supervisor": 200, "admin": 200, "property": 200, "other_property": 404},
    "/console/renovations/{id}/notice": {"property": 200, "other_property": 404},
    "/console/renovations/{id}/scans/{scan}": {"property": 200, "other_property": 404},
}


@pytest.mark.parametrize(("path", "allowed"), PAGES.items(), ids=list(PAGES))
def test_renovation_pages(
    app, session: Session, accounts, companies: Companies, path: str, allowed: dict
) -> None:
    renovation = register(session, staff_actor(companies.mine), items=["gas_pipes"], now=_now())
    session.commit()
    uploader = app.test_client()
    login(uploader, companies.mine.username)
    send(
        uploader,
        f"/console/renovations/{renovation.id}/permits/gas_pipes",
        {
            "item": "gas_pipes",
            "number": "RQ-1",
            "authority": "燃气",
            "scan": (io.BytesIO(png_bytes()), "p.png"),
        },
    )
    session.expire_all()
    scan = session.get(Renovation, renovation.id).permits[0]["upload_id"]
    for role in ROLES:
        response = client_as(app, role, accounts, companies).get(path.format(id=renovation.id, scan=scan))
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        else:
            assert response.status_code == allowed.get(role, 403), (path, role, response.status_code)
        if role in {"supervisor", "admin", "other_property"}:
            page = response.get_data(as_text=True)
            assert OWNER not in page and OWNER_PHONE not in page, (path, role)


# path, the registration's items, the state it is brought to, the form, and the status each role gets
ACTIONS: list[tuple[str, str, dict, dict[str, int]]] = [
    ("/console/renovations", "new", {}, {"property": 302, "other_property": 400}),  # not the other's estate
    (
        "/console/renovations/{id}/permits/gas_pipes",
        "waiting",
        {"item": "gas_pipes", "number": "RQ-1", "authority": "燃气"},
        {"property": 302, "other_property": 404},
    ),
    ("/console/renovations/{id}/start", "accepted", {}, {"property": 302, "other_property": 404}),
    ("/console/renovations/{id}/complete", "in_progress", {}, {"property": 302, "other_property": 404}),
]


def _fingerprint(session: Session) -> list[tuple]:
    session.expire_all()
    return [(r.id, r.status, len(r.permits), len(r.events)) for r in session.scalars(select(Renovation))]


@pytest.mark.parametrize(("path", "state", "data", "allowed"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_renovation_actions(
    app, session: Session, accounts, companies: Companies, path: str, state: str, data: dict, allowed: dict
) -> None:
    actor = staff_actor(companies.mine)
    for role in ROLES:
        renovation = register(
            session,
            actor,
            items=["gas_pipes"] if state == "waiting" else ["wall_floor_ceiling"],
            room=f"{ROLES.index(role) + 1}01",
            now=_now(),
        )
        if state == "in_progress":
            start_renovation(session, actor, renovation.id, now=_now())
        session.commit()
        client = client_as(app, role, accounts, companies)
        before = _fingerprint(session)
        token = csrf_token(client, "/console/login" if role == "anonymous" else "/console/password")
        body = form(session, room=f"9{ROLES.index(role)}") if state == "new" else data
        response = client.post(path.format(id=renovation.id), data={**body, "csrf_token": token})
        after = _fingerprint(session)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        else:
            assert response.status_code == allowed.get(role, 403), (path, role, response.status_code)
        assert (after != before) is (response.status_code == 302 and role != "anonymous"), (path, role)
