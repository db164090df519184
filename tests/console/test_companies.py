"""The console's pages about property companies: the bureau's companies and estates, a company's manager's
staff accounts, and a staff member's WeChat binding; each page and action tried by every role, including the
staff and the manager of another company."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from backend.db import utcnow
from backend.org.models import Estate, PropertyCompany
from backend.property.binding import bind_wechat
from backend.property.models import EstateManagement
from backend.property.staff import property_actor
from backend.staff.models import StaffUser
from backend.staff.services import create_staff
from tests.support.accounts import make_resident
from tests.support.console import PASSWORD, csrf_token, login, post

BUREAU = {"supervisor", "admin"}
PROPERTY = {"property", "manager", "other_property", "other_manager"}
MANAGERS = {"manager", "other_manager"}
ROLES = [
    "anonymous",
    "officer",
    "leader",
    "other_officer",
    "supervisor",
    "admin",
    "editor",
    *sorted(PROPERTY),
]


def a_credit_code() -> str:
    """A fresh valid code (the check digit computed by python-stdnum, tested on published examples)."""
    body = "91310118MA1" + "".join(c for c in uuid.uuid4().hex.upper() if c in "0123456789ABCDEF")[:6]
    body = body.replace("E", "8").replace("F", "9")
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def everyone(session: Session, accounts) -> dict[str, StaffUser]:
    """The console's accounts (with the manager of the property staff's company and the staff of another
    company), plus the manager of that other company."""
    mine = accounts["property"].company
    theirs = accounts["other_property"].company
    extra = {"other_manager": (theirs, True)}
    made = dict(accounts.by_name)
    for name, (company, manager) in extra.items():
        staff = create_staff(
            session,
            username=f"t_{name}",
            display_name=name,
            role="property_staff",
            password=PASSWORD,
            company=company,
        )
        staff.company_manager = manager
        made[name] = staff
    estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
    estate.property_company = mine
    session.add(EstateManagement(estate=estate, company=mine, started_on=utcnow().date().replace(day=1)))
    session.commit()
    return made


def client_as(app, role: str, everyone: dict[str, StaffUser]) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        login(client, everyone[role].username)
    return client


def token_of(client: FlaskClient, role: str) -> str:
    return csrf_token(client, "/console/login" if role == "anonymous" else "/console/password")


def test_pages(app, session: Session, everyone) -> None:
    company_id = everyone["property"].company_id
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    pages = {
        "/console/companies": BUREAU,
        f"/console/companies/{company_id}": BUREAU,
        f"/console/estates/{estate_id}/companies": BUREAU,
        "/console/company": PROPERTY,
        "/console/company/staff": MANAGERS,
        "/console/binding": PROPERTY,
    }
    for role in ROLES:
        client = client_as(app, role, everyone)
        for path, allowed in pages.items():
            response = client.get(path)
            if role == "anonymous":
                assert response.status_code == 302 and "/console/login" in response.location, (path, role)
            elif role in allowed:
                assert response.status_code == 200, (path, role, response.status_code)
            else:
                assert response.status_code == 403, (path, role, response.status_code)


# (path, form, who may, what changed): each tried by every role on fresh rows
def _actions(
    session: Session, everyone
) -> list[tuple[str, Callable[[], dict], set[str], Callable[[], object]]]:
    mine = everyone["property"].company
    target = everyone["property"]
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "新青浦花苑"))

    def count(model: type, *where: object) -> Callable[[], object]:
        return lambda: session.scalar(select(func.count()).select_from(model).where(*where))

    def state(model: type, id_: int, *columns: str) -> Callable[[], object]:
        def read() -> object:
            session.expire_all()
            row = session.get(model, id_)
            return tuple(getattr(row, c) for c in columns)

        return read

    return [
        (
            "/console/companies",
            lambda: {"name": f"新物业{uuid.uuid4().hex[:6]}", "credit_code": a_credit_code()},
            BUREAU,
            count(PropertyCompany),
        ),
        (
            f"/console/companies/{mine.id}",
            lambda: {"name": mine.name, "contact_name": uuid.uuid4().hex[:8], "active": "yes"},
            BUREAU,
            state(PropertyCompany, mine.id, "contact_name"),
        ),
        (
            f"/console/companies/{mine.id}/estates",
            lambda: {"estate": str(estate_id)},
            BUREAU,
            state(Estate, estate_id, "property_company_id"),
        ),
        (
            f"/console/estates/{session.scalar(select(Estate.id).where(Estate.name == '康虹花园'))}/end",
            lambda: {},
            BUREAU,
            count(EstateManagement, EstateManagement.ended_on.is_(None)),
        ),
        (
            "/console/company/staff",
            lambda: {
                "username": f"new_{uuid.uuid4().hex[:6]}",
                "display_name": "新员工",
                "password": PASSWORD,
            },
            MANAGERS,
            count(StaffUser),
        ),
        (
            f"/console/company/staff/{target.id}/disable",
            lambda: {},
            {"manager"},
            state(StaffUser, target.id, "active"),
        ),
        (
            f"/console/users/{target.id}/make-manager",
            lambda: {},
            {"admin"},
            state(StaffUser, target.id, "company_manager"),
        ),
    ]


@pytest.mark.parametrize(
    "index", range(7), ids=["create", "edit", "assign", "end", "staff", "disable", "manager"]
)
def test_actions(app, session: Session, everyone, index: int) -> None:
    for role in ROLES:
        session.rollback()
        path, form, allowed, fingerprint = _actions(session, everyone)[index]
        client = client_as(app, role, everyone)
        token = token_of(client, role)
        before = fingerprint()
        response = client.post(path, data={**form(), "csrf_token": token})
        after = fingerprint()
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
            assert after == before
        elif role in allowed:
            assert response.status_code == 302, (
                path,
                role,
                response.status_code,
                response.get_data(as_text=True)[-400:],
            )
            assert after != before, (path, role, "nothing changed")
            _undo(session, everyone)
        else:
            assert response.status_code == 403, (path, role, response.status_code)
            assert after == before, (path, role, "a refused action changed something")


def _undo(session: Session, everyone) -> None:
    """Put back what an allowed action changed, for the next role to try."""
    session.expire_all()
    target = session.get_one(StaffUser, everyone["property"].id)
    target.active, target.company_manager = True, False
    mine = everyone["property"].company_id
    for estate_name in ("康虹花园", "新青浦花苑"):
        estate = session.scalar(select(Estate).where(Estate.name == estate_name))
        for spell in session.scalars(select(EstateManagement).where(EstateManagement.estate_id == estate.id)):
            session.delete(spell)
        estate.property_company_id = None
    session.flush()
    kanghong = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
    kanghong.property_company_id = mine
    session.add(
        EstateManagement(estate_id=kanghong.id, company_id=mine, started_on=utcnow().date().replace(day=1))
    )
    session.commit()


def test_binding_actions_are_each_staff_members_own(app, session: Session, everyone) -> None:
    for role in ROLES:
        client = client_as(app, role, everyone)
        token = token_of(client, role)
        code = client.post("/console/binding/code", data={"csrf_token": token})
        unbind = client.post("/console/binding/unbind", data={"csrf_token": token})
        if role == "anonymous":
            assert code.status_code == unbind.status_code == 302
        elif role in PROPERTY:
            assert code.status_code == 200 and unbind.status_code == 302, role
        else:
            assert code.status_code == unbind.status_code == 403, role


def test_property_staff_start_at_their_company(app, everyone) -> None:
    for role in PROPERTY:
        client = client_as(app, role, everyone)
        home = client.get("/console/")
        assert home.status_code == 302 and home.location.endswith("/console/company"), role
        page = client.get("/console/company").get_data(as_text=True)
        assert "微信绑定" in page and ("员工账号" in page) is (role in MANAGERS), role
    assert "康虹花园" in client_as(app, "property", everyone).get("/console/company").get_data(as_text=True)
    assert "康虹花园" not in client_as(app, "other_property", everyone).get("/console/company").get_data(
        as_text=True
    )
    assert "物业公司" in client_as(app, "supervisor", everyone).get("/console/inbox").get_data(as_text=True)


# -------------------------------------------------------------------------------------- the bureau


def test_the_bureau_records_a_company_and_a_wrong_code_is_said_beside_its_field(
    app, session, everyone
) -> None:
    client = client_as(app, "supervisor", everyone)
    refused = post(client, "/console/companies", {"name": "华新物业", "credit_code": "91110000600037341M"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "校验位不对" in html and 'value="华新物业"' in html
    code = a_credit_code()
    made = post(
        client,
        "/console/companies",
        {"name": "华新物业", "credit_code": code.lower(), "contact_phone": "13912345678"},
    )
    assert made.status_code == 302
    company = session.scalar(select(PropertyCompany).where(PropertyCompany.name == "华新物业"))
    assert company.credit_code == code and made.location.endswith(f"/console/companies/{company.id}")
    assert "华新物业" in client.get("/console/companies").get_data(as_text=True)


def test_the_bureau_hands_an_estate_over_and_reads_its_history(app, session, everyone) -> None:
    client = client_as(app, "admin", everyone)
    theirs = everyone["other_property"].company
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    page = client.get(f"/console/companies/{theirs.id}").get_data(as_text=True)
    assert "康虹花园（现由 测试物业服务有限公司 管理）" in page
    assert (
        post(client, f"/console/companies/{theirs.id}/estates", {"estate": str(estate_id)}).status_code == 302
    )
    history = client.get(f"/console/estates/{estate_id}/companies").get_data(as_text=True)
    assert history.index(theirs.name) < history.index("测试物业服务有限公司") and "至今" in history
    assert "康虹花园" in client.get(f"/console/companies/{theirs.id}").get_data(as_text=True)
    mine = everyone["property"].company
    again = post(
        client, f"/console/companies/{mine.id}/estates", {"estate": str(estate_id), "since": "2000-01-01"}
    )
    assert again.status_code == 400 and "交接日期" in again.get_data(as_text=True)
    assert post(client, f"/console/estates/{estate_id}/end").status_code == 302
    session.expire_all()
    assert session.get_one(Estate, estate_id).property_company_id is None


def test_a_company_with_estates_or_accounts_is_not_stopped(app, session, everyone) -> None:
    client = client_as(app, "supervisor", everyone)
    mine = everyone["property"].company
    refused = post(client, f"/console/companies/{mine.id}", {"name": mine.name})  # the box unticked
    assert refused.status_code == 400 and "请先结束其管理" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get_one(PropertyCompany, mine.id).active is True


def test_an_admin_makes_a_manager_on_the_users_page(app, session, everyone) -> None:
    client = client_as(app, "admin", everyone)
    assert "设为公司管理员" in client.get("/console/users").get_data(as_text=True)
    target = everyone["property"]
    assert post(client, f"/console/users/{target.id}/make-manager").status_code == 302
    session.expire_all()
    assert session.get_one(StaffUser, target.id).company_manager is True
    # the new manager's next page has the staff link
    assert client_as(app, "property", everyone).get("/console/company/staff").status_code == 200


# ------------------------------------------------------------------------------ a company's manager


def test_a_manager_sees_and_manages_only_their_own_company(app, session, everyone) -> None:
    client = client_as(app, "manager", everyone)
    page = client.get("/console/company/staff").get_data(as_text=True)
    assert "t_property" in page and "t_other_property" not in page
    username = f"pm_{uuid.uuid4().hex[:6]}"
    made = post(
        client,
        "/console/company/staff",
        {"username": username, "display_name": "吴员工", "password": PASSWORD},
    )
    assert made.status_code == 302
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
    assert staff.company_id == everyone["manager"].company_id and staff.role == "property_staff"

    for target in ("other_property", "other_manager", "manager"):
        refused = post(client, f"/console/company/staff/{everyone[target].id}/disable")
        assert refused.status_code == 403, target
        session.expire_all()
        assert session.get_one(StaffUser, everyone[target].id).active is True, target

    short = post(
        client, "/console/company/staff", {"username": "pm_short", "display_name": "短", "password": "short"}
    )
    assert short.status_code == 400 and 'value="pm_short"' in short.get_data(as_text=True)


def test_a_disabled_staff_member_is_signed_out_at_once(app, session, everyone) -> None:
    staff_client = client_as(app, "property", everyone)
    assert staff_client.get("/console/company").status_code == 200
    manager = client_as(app, "manager", everyone)
    assert post(manager, f"/console/company/staff/{everyone['property'].id}/disable").status_code == 302
    assert staff_client.get("/console/company").status_code == 302
    assert post(manager, f"/console/company/staff/{everyone['property'].id}/enable").status_code == 302
    session.expire_all()
    assert session.get_one(StaffUser, everyone["property"].id).active is True


# ------------------------------------------------------------------------------------- binding WeChat


def test_the_binding_page_shows_a_code_once_and_it_binds(app, session, everyone) -> None:
    client = client_as(app, "property", everyone)
    assert "获取绑定码" in client.get("/console/binding").get_data(as_text=True)
    response = post(client, "/console/binding/code")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "10 分钟内有效" in html and "只显示这一次" in html
    shown = re.search(r'data-testid="binding-code"><strong>(\w{4}) (\w{4})</strong>', html)
    assert shown, html
    code = shown.group(1) + shown.group(2)
    assert code not in client.get("/console/binding").get_data(as_text=True)  # never shown again

    user, _token = make_resident(session, "wx_console")
    bind_wechat(session, user, code, now=utcnow())
    session.commit()
    assert property_actor(session, user).company_id == everyone["property"].company_id
    page = client.get("/console/binding").get_data(as_text=True)
    assert "已绑定微信" in page and "解除绑定" in page
