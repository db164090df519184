"""The bureau's dashboard in a real headless Chromium: every chart drawn by ECharts (served from our own static
folder), and a screenshot kept with the test run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from backend import create_app
from backend.clock import MovableClock
from backend.console.blueprint import console_bp
from backend.console.views.stats import ECHARTS
from backend.staff.services import create_staff
from tests.support.browser import served
from tests.support.cleanup import purge_users
from tests.support.services import services_required
from tests.support.stats_pages import NOW, build_cases, restore_rollups, rollups_summed

PASSWORD = "browser-test-password"


@pytest.fixture
def echarts_fetched() -> None:
    """The charts need ECharts, which `make` fetches from the npm registry: CI runs `make test`, so there it
    must be present; a bare `pytest` here skips with the reason."""
    path = Path(console_bp.static_folder or "") / ECHARTS
    if path.is_file():
        return
    if services_required():
        pytest.fail(f"{path} is missing: `make test` fetches it (make vendor)")
    pytest.skip(f"{path} is missing: run `make vendor` (or `make test`) to fetch ECharts")


@dataclass
class LiveStats:
    url: str
    supervisor: str


@pytest.fixture
def live_stats(app, database_url: str, tmp_path, echarts_fetched) -> Iterator[LiveStats]:
    """A real server on 127.0.0.1 over the suite's database with the known cases committed and summed, read
    at NOW; everything committed is removed afterwards."""
    live = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "CONSOLE_LOGIN_RATE": "10000 per minute",
        }
    )
    live.extensions["clock"] = MovableClock(NOW)
    engine = live.extensions["db"].engine
    summed_before = rollups_summed(engine)
    with Session(engine, info=app.extensions["db"].info) as session:
        supervisor = create_staff(
            session,
            username=f"s_super_{uuid.uuid4().hex[:6]}",
            display_name="统计督办",
            role="supervisor",
            password=PASSWORD,
        )
        cases = build_cases(session)
        session.commit()
        users = [case.reporter_id for case in cases.values() if case.reporter_id is not None]
        info = LiveStats("", supervisor.username)
        staff_ids = [supervisor.id]
    try:
        with served(live) as url:
            info.url = url
            yield info
    finally:
        purge_users(engine, users, staff_ids)
        restore_rollups(engine, summed_before, NOW)
        engine.dispose()


# Each chart container with the size of what ECharts drew in it (0 × 0 when nothing was drawn).
DRAWN = """() => [...document.querySelectorAll('[data-chart]')].map(element => {
    const drawn = element.querySelector('svg, canvas');
    const box = drawn ? drawn.getBoundingClientRect() : {width: 0, height: 0};
    const marks = drawn ? drawn.querySelectorAll('path, rect, text').length : 0;
    return [element.dataset.chart, box.width, box.height, marks];
})"""


def test_the_bureau_sees_every_chart_drawn(browser, live_stats: LiveStats, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_stats.url}/console/login")
    page.get_by_label("用户名").fill(live_stats.supervisor)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/inbox")
    page.get_by_role("link", name="统计", exact=True).click()
    page.wait_for_url("**/console/stats")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-chart]')].every(e => e.dataset.drawn === '1')",
        timeout=15000,
    )

    charts = page.evaluate(DRAWN)
    names = {name for name, *_ in charts}
    assert {"trend", "towns", "categories", "sources", "phases", "rates", "hot"} <= names
    assert sum(name.startswith("watch-") for name in names) == 7  # the notice's seven key estates
    for name, width, height, marks in charts:
        assert width > 0 and height > 0 and marks > 0, (name, width, height, marks)
    assert not errors, errors
    assert page.get_by_test_id("charts-missing").is_hidden()
    assert page.get_by_test_id("by-town").locator("tbody tr").first.inner_text().startswith("徐泾镇")

    shot = tmp_path / "stats-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_the_monthly_report_prints_with_its_charts(browser, live_stats: LiveStats, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{live_stats.url}/console/login")
    page.get_by_label("用户名").fill(live_stats.supervisor)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/inbox")
    page.goto(f"{live_stats.url}/console/stats/report?month=2026-11")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-chart]')].every(e => e.dataset.drawn === '1')",
        timeout=15000,
    )
    for name, width, height, marks in page.evaluate(DRAWN):
        assert width > 0 and height > 0 and marks > 0, (name, width, height, marks)
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden() and page.get_by_test_id("report-form").is_hidden()
    assert page.get_by_test_id("comparison").is_visible()
    pdf = tmp_path / "stats-report.pdf"
    page.pdf(path=str(pdf), format="A4")
    print(f"monthly report as printed: {pdf}")
    assert pdf.stat().st_size > 10_000
