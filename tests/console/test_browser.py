"""The console in a real headless Chromium (Debian's), driven by Playwright against a live server."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from backend import create_app
from backend.accounts.models import User
from backend.cases.models import Case
from backend.cases.services.filing import ReportInput, submit_report
from backend.clock import MovableClock
from backend.org.models import Estate
from backend.staff.services import create_staff
from tests.support.browser import served
from tests.support.cleanup import purge_users

PASSWORD = "browser-test-password"


@dataclass
class LiveConsole:
    url: str
    clock: MovableClock
    officer: str
    supervisor: str
    first: str  # a case for the officer to work
    second: str  # a case that will go overdue


@pytest.fixture
def live_console(app, database_url: str, tmp_path) -> Iterator[LiveConsole]:
    """A real server on 127.0.0.1 over the suite's database, with committed data removed afterwards."""
    live = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "CONSOLE_LOGIN_RATE": "10000 per minute",
        }
    )
    clock = MovableClock(dt.datetime.now(dt.UTC))
    live.extensions["clock"] = clock
    engine = live.extensions["db"].engine
    tag = uuid.uuid4().hex[:6]
    with Session(engine, info=app.extensions["db"].info) as session:
        from sqlalchemy import select

        estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
        officer = create_staff(
            session,
            username=f"b_officer_{tag}",
            display_name="浏览器队员",
            role="officer",
            password=PASSWORD,
            squad=estate.town.squad,
        )
        supervisor = create_staff(
            session,
            username=f"b_super_{tag}",
            display_name="浏览器督办",
            role="supervisor",
            password=PASSWORD,
        )
        resident = User(openid=f"browser-{tag}", nickname="居民")
        session.add(resident)
        session.flush()
        cases: list[Case] = []
        for text in ("楼顶有人在搭建阳光房，已经搭了一半", "小区绿地被人围起来种菜了"):
            case, _ = submit_report(
                session,
                resident,
                ReportInput(
                    description=text,
                    estate_id=estate.id,
                    contact_phone="13912345678",
                    category="illegal_construction" if "阳光房" in text else "green_space_damage",
                ),
                now=clock.now(),
            )
            cases.append(case)
        session.commit()
        ids = (resident.id, [officer.id, supervisor.id])
        info = LiveConsole(
            "", clock, officer.username, supervisor.username, cases[0].tracking_no, cases[1].tracking_no
        )
        second_due = cases[1].due_at
    try:
        with served(live) as url:
            info.url = url
            info.second_due = second_due  # type: ignore[attr-defined]
            yield info
    finally:
        purge_users(engine, [ids[0]], ids[1])
        engine.dispose()


def log_in(page, live: LiveConsole, username: str) -> None:
    page.goto(f"{live.url}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/inbox")


def act(page, name: str, verb: str, fill: dict[str, str] | None = None) -> None:
    """Open the step's form by its verb (签收, 办结 …), fill it in and press the button of the same verb."""
    form = page.locator(f'form[data-action="{name}"]')
    if not form.is_visible():
        page.locator("summary", has_text=verb).first.click()
    for field, value in (fill or {}).items():
        form.locator(f'[name="{field}"]').fill(value)
    form.get_by_role("button", name=verb, exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".flash.ok").first.inner_text() == f"已完成：{verb}", page.content()[:500]


def test_an_officer_signs_notes_and_resolves_a_case(browser, live_console: LiveConsole, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # an officer's phone
    log_in(page, live_console, live_console.officer)
    row = page.locator(f'tr[data-case="{live_console.first}"]')
    assert row.is_visible()
    row.get_by_role("link", name=live_console.first).click()
    assert "139****5678" in page.content() and "13912345678" not in page.content()
    act(page, "sign", "签收")
    assert page.get_by_test_id("status").inner_text() == "已签收"
    page.get_by_label("内部备注", exact=True).fill("现场已拍照，当事人承诺三日内自行拆除")
    page.get_by_role("button", name="添加备注").click()
    page.wait_for_load_state()
    assert "现场已拍照" in page.locator(".timeline").inner_text()
    act(page, "investigate", "开始核查")
    act(page, "verify", "核实属实")

    # A refused resolve (the "photo" is a scanned PDF) shows the form again with the reply as typed.
    reply = "违法搭建的阳光房已拆除，现场恢复原状。"
    page.locator("summary", has_text="办结").first.click()
    resolve = page.locator('form[data-action="resolve"]')
    resolve.locator('[name="public_reply"]').fill(reply)
    resolve.locator('[name="photos"]').set_input_files(
        [{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 not a photo"}]
    )
    resolve.get_by_role("button", name="办结", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "属实"
    assert page.get_by_test_id("refused").is_visible()
    resolve = page.locator('form[data-action="resolve"]')
    assert resolve.is_visible()  # still open, not folded away among the other steps
    assert resolve.locator('[name="public_reply"]').input_value() == reply
    assert "第 1 张照片" in resolve.locator(".field-error").inner_text()

    act(page, "resolve", "办结")  # the reply is still there: sent as it stands
    assert page.get_by_test_id("status").inner_text() == "已办结"
    assert "违法搭建的阳光房已拆除" in page.content()
    page.screenshot(path=str(tmp_path / "case-on-phone.png"), full_page=True)


def test_a_supervisor_finds_a_case_on_the_overdue_list_once_the_clock_passes_its_due_time(
    browser, live_console: LiveConsole
) -> None:
    page = browser.new_page()
    log_in(page, live_console, live_console.supervisor)
    page.get_by_role("link", name="超期", exact=True).click()
    assert live_console.second not in page.content()
    live_console.clock.set(live_console.second_due + dt.timedelta(minutes=5))  # type: ignore[attr-defined]
    page.reload()
    row = page.locator(f'tr[data-case="{live_console.second}"]')
    assert row.is_visible()
    assert "已超期" in row.inner_text()
