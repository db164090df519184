"""A property manager in a real headless Chromium: registering a renovation and printing its notice, then filing
a patrol whose reported finding reaches the squad's inbox."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from backend import create_app
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CasePhoto
from backend.org.models import Estate, PropertyCompany
from backend.property.models import EstateManagement, Patrol, PatrolFinding, Renovation, RenovationEvent
from backend.staff.models import StaffNotice, StaffUser
from backend.staff.services import create_staff
from tests.support.browser import served

PASSWORD = "browser-test-password"


@dataclass
class LiveProperty:
    url: str
    manager: str
    officer: str


def purge_company(engine: Engine, company_id: int, estate_id: int, staff_ids: list[int]) -> None:
    """Remove what the walk committed: the company's records, the cases its findings became, its accounts."""
    with engine.begin() as conn:
        case_ids = list(
            conn.scalars(select(PatrolFinding.case_id).where(PatrolFinding.company_id == company_id))
        )
        case_ids = [i for i in case_ids if i is not None]
        numbers = list(conn.scalars(select(Case.tracking_no).where(Case.id.in_(case_ids))))
        renovations = select(Renovation.id).where(Renovation.company_id == company_id)
        patrols = select(Patrol.id).where(Patrol.company_id == company_id)
        conn.execute(update(Estate).where(Estate.id == estate_id).values(property_company_id=None))
        for table, condition in (
            (
                AuditEntry,
                or_(
                    AuditEntry.target_id.in_(numbers),
                    AuditEntry.actor_id.in_(staff_ids),
                    AuditEntry.target_id.in_([str(i) for i in staff_ids]),
                ),
            ),
            (StaffNotice, StaffNotice.case_id.in_(case_ids)),
            (PatrolFinding, PatrolFinding.company_id == company_id),
            (Patrol, Patrol.id.in_(patrols)),
            (RenovationEvent, RenovationEvent.renovation_id.in_(renovations)),
            (Renovation, Renovation.company_id == company_id),
            (CasePhoto, CasePhoto.case_id.in_(case_ids)),
            (CaseEvent, CaseEvent.case_id.in_(case_ids)),
            (Case, Case.id.in_(case_ids)),
            (EstateManagement, EstateManagement.company_id == company_id),
            (StaffUser, StaffUser.id.in_(staff_ids)),
            (PropertyCompany, PropertyCompany.id == company_id),
        ):
            conn.execute(delete(table).where(condition))


@pytest.fixture
def live_property(app, database_url: str, tmp_path) -> Iterator[LiveProperty]:
    live = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "CONSOLE_LOGIN_RATE": "10000 per minute",
        }
    )
    engine = live.extensions["db"].engine
    tag = uuid.uuid4().hex[:6]
    with Session(engine, info=app.extensions["db"].info) as session:
        estate = session.scalars(select(Estate).where(Estate.name == "康虹花园")).one()
        company = PropertyCompany(
            name=f"浏览器物业{tag}", contact_name="周经理", contact_phone="021-59720001"
        )
        session.add(company)
        session.flush()
        estate.property_company = company
        session.add(EstateManagement(estate=estate, company=company, started_on=dt.date(2024, 1, 1)))
        manager = create_staff(
            session,
            username=f"b_pm_{tag}",
            display_name="物业周经理",
            role="property_staff",
            password=PASSWORD,
            company=company,
        )
        manager.company_manager = True
        officer = create_staff(
            session,
            username=f"b_xj_{tag}",
            display_name="徐泾队员",
            role="officer",
            password=PASSWORD,
            squad=estate.town.squad,
        )
        session.commit()
        ids = (company.id, estate.id, [manager.id, officer.id])
        info = LiveProperty("", manager.username, officer.username)
    try:
        with served(live) as url:
            info.url = url
            yield info
    finally:
        purge_company(engine, *ids)
        engine.dispose()


def log_in(page, live: LiveProperty, username: str) -> None:
    page.goto(f"{live.url}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_a_manager_registers_a_renovation_prints_its_notice_and_files_a_patrol(
    browser, live_property: LiveProperty, tmp_path
) -> None:
    page = browser.new_page()
    log_in(page, live_property, live_property.manager)
    assert "/console/company" in page.url  # a company's home, not the squads' inbox

    page.get_by_role("link", name="装修登记", exact=True).click()
    page.goto(f"{live_property.url}/console/renovations/new")
    form = page.locator("form").filter(has=page.locator('[name="owner_name"]'))
    form.locator('[name="building"]').fill("8")
    form.locator('[name="unit"]').fill("2")
    form.locator('[name="room"]').fill("1502")
    form.locator('[name="owner_name"]').fill("业主王先生")
    form.locator('[name="owner_phone"]').fill("13900001111")
    form.locator('[name="contractor"]').fill("青浦某装饰公司")
    form.locator('[name="contractor_phone"]').fill("021-59721234")
    today = dt.date.today()
    form.locator('[name="planned_start"]').fill((today + dt.timedelta(days=3)).isoformat())
    form.locator('[name="planned_end"]').fill((today + dt.timedelta(days=40)).isoformat())
    for item in ("wall_floor_ceiling", "kitchen_bathroom_in_place"):
        form.locator(f'input[name="items"][value="{item}"]').check()
    form.get_by_role("button", name="提交申报").click()
    page.wait_for_load_state()
    assert "已登记" in page.content(), page.content()[:800]
    page.get_by_test_id("notice").click()
    page.wait_for_load_state()
    notice = page.content()
    assert "装修告知书" in notice and "业主王先生" in notice and "第五十九条" in notice
    page.screenshot(path=str(tmp_path / "renovation-notice.png"), full_page=True)
    page.pdf(path=str(tmp_path / "renovation-notice.pdf"), format="A4")  # what 打印 gives the owner

    page.goto(f"{live_property.url}/console/patrols/new")
    patrol = page.locator('form[data-form="patrol"]')
    patrol.locator('input[name="areas"][value="屋顶平台"]').check()
    first = patrol.locator('fieldset[data-finding="0"]')
    first.locator('[name="findings.0.category"]').select_option("illegal_construction")
    first.locator('[name="findings.0.action"]').select_option("reported")
    first.locator('[name="findings.0.building"]').fill("12")
    first.locator('[name="findings.0.description"]').fill("12号楼楼顶有人正在搭建彩钢板房，劝阻无效")
    patrol.get_by_role("button", name="提交巡查记录").click()
    page.wait_for_load_state()
    filed = re.search(r"QP\d{8}-\d{4,6}", page.content())  # the case the reported finding became
    assert filed is not None, page.content()[:800]
    number = filed.group(0)

    squad = browser.new_page()
    log_in(squad, live_property, live_property.officer)
    squad.goto(f"{live_property.url}/console/inbox?tab=to_sign")
    row = squad.locator(f'tr[data-case="{number}"]')
    assert row.is_visible(), squad.content()[:800]
    assert "物业上报" in row.inner_text()
    squad.screenshot(path=str(tmp_path / "squad-inbox.png"), full_page=True)
