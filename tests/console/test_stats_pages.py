"""The statistics pages: the dashboard's figures as the figures service computes them, for the bureau and a
squad leader's own squad; filters in the URL; refused filters; the key-estate watch list; the monthly report
and the phase summary with the periods they are compared with."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import backend.console.views.stats as stats_views
from backend.audit.models import AuditEntry
from backend.clock import MovableClock
from backend.org.models import Estate, Squad, Town
from backend.stats.figures import Count, Dashboard, dashboard
from backend.stats.filters import StatFilter
from tests.support.console import csrf_token, login
from tests.support.stats_pages import NOW, PageFigures, build_cases

NOVEMBER = StatFilter(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture
def figures(app, session: Session, monkeypatch) -> None:
    """The known cases, committed, read at NOW."""
    monkeypatch.setitem(app.extensions, "clock", MovableClock(NOW))
    build_cases(session)
    session.commit()


def client_of(app, accounts, name: str) -> FlaskClient:
    return login(app.test_client(), accounts[name].username)


def town_id(session: Session, name: str) -> int:
    return session.scalar(select(Town.id).where(Town.name == name))


def squad_id(session: Session, code: str) -> int:
    return session.scalar(select(Squad.id).where(Squad.code == code))


def page(client: FlaskClient, url: str, status: int = 200) -> PageFigures:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[-800:])
    return PageFigures(response.get_data(as_text=True))


def as_rows(counts: list[Count]) -> dict[str, list[str]]:
    return {c.label: [str(c.cases)] for c in counts}


def assert_page_shows(shown: PageFigures, board: Dashboard) -> None:
    """Every table of the dashboard holds what the figures service says for the same filter."""
    h = board.handling
    assert shown.rows("handling")["上报工单"] == [str(h.cases)]
    assert shown.rows("handling")["按时签收率"] == [
        f"{h.sign_on_time.percent}（{h.sign_on_time.part}/{h.sign_on_time.whole}）"
    ]
    assert shown.rows("handling")["目前超期未办"] == [str(h.overdue_now)]
    assert shown.rows("handling")["签收用时"][0].startswith(f"中位 {h.durations['sign'].median.label}")
    assert shown.rows("by-town") == as_rows(board.by_town)
    assert shown.rows("by-category") == as_rows(board.by_category)
    assert shown.rows("by-source") == as_rows(board.by_source)
    assert shown.rows("by-status") == as_rows(board.by_status)
    assert shown.rows("trend-table") == as_rows(board.trend.points)
    assert shown.rows("phases") == {
        r.label: [str(r.cases), r.sign_on_time.percent, r.resolve_on_time.percent, r.satisfaction.percent]
        for r in board.phases
    }
    watch = shown.rows("watch")
    assert {label: cells[:2] for label, cells in watch.items()} == {
        w.label: [str(w.cases), str(w.previous)] for w in board.watch
    }
    assert {label: cells[:2] for label, cells in shown.rows("hot").items()} == {
        s.label: [str(s.cases), str(s.previous)] for s in board.hot
    }
    assert [row[1] for row in shown.tables["squad-ranking"][1:]] == [r.name for r in board.squads.rows]
    assert shown.text("squad-rule") == board.squads.rule


def test_the_bureau_sees_the_districts_figures_as_the_service_computes_them(
    app, session: Session, accounts, figures
) -> None:
    shown = page(client_of(app, accounts, "supervisor"), "/console/stats?start=2026-11-01&end=2026-11-30")
    board = dashboard(session, NOVEMBER, NOW)
    assert_page_shows(shown, board)
    # and those are the right answers for the four cases of November
    assert shown.rows("handling")["上报工单"] == ["4"]
    assert shown.rows("by-town") == {"徐泾镇": ["2"], "夏阳街道": ["1"], "赵巷镇": ["1"]}
    assert shown.rows("handling")["满意率（满意、基本满意占已评价）"] == ["50.0%（1/2）"]
    assert shown.rows("watch")["康虹花园（徐泾镇）"][:2] == ["2", "1"]  # October had one
    assert shown.text("range") == "2026-11-01 至 2026-11-30"
    assert re.fullmatch(r"数据更新于 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", shown.text("refreshed"))
    assert "company-ranking" in shown.tables and "company-rule" in shown.texts
    assert "watch-add" in shown.texts


def test_without_a_filter_the_dashboard_covers_every_case_up_to_today(
    app, session: Session, accounts, figures
) -> None:
    shown = page(client_of(app, accounts, "admin"), "/console/stats")
    board = dashboard(session, StatFilter(), NOW)
    assert_page_shows(shown, board)
    assert shown.rows("handling")["上报工单"] == ["9"]
    assert shown.text("range") == "2025-11-15 至 2026-12-03"


def test_a_squad_leader_sees_their_own_squads_figures_only(app, session: Session, accounts, figures) -> None:
    leader = client_of(app, accounts, "leader")  # 徐泾中队
    xujing = town_id(session, "徐泾镇")
    shown = page(leader, "/console/stats?start=2026-11-01&end=2026-11-30")
    assert_page_shows(shown, dashboard(session, replace(NOVEMBER, town_id=xujing), NOW))
    assert shown.rows("by-town") == {"徐泾镇": ["2"]}
    assert [row[1] for row in shown.tables["squad-ranking"][1:]] == ["徐泾中队"]
    assert "company-ranking" not in shown.tables and "watch-add" not in shown.texts
    html = leader.get("/console/stats").get_data(as_text=True)
    assert 'name="town"' not in html  # no choice of town to make
    # asking for their own town or squad is the same page; another's is refused, not quietly replaced
    assert leader.get(f"/console/stats?town={xujing}").status_code == 200
    assert leader.get(f"/console/stats?squad={squad_id(session, 'xujing')}").status_code == 200
    for other in (f"town={town_id(session, '夏阳街道')}", f"squad={squad_id(session, 'xiayang')}"):
        refused = leader.get(f"/console/stats?{other}")
        assert refused.status_code == 403 and "只能查看本中队的统计" in refused.get_data(as_text=True)


def test_filters_round_trip_through_the_url(app, session: Session, accounts, figures) -> None:
    query = {
        "start": "2026-04-01",
        "end": "2026-11-30",
        "phase": "review",
        "town": str(town_id(session, "徐泾镇")),
        "squad": str(squad_id(session, "xujing")),
        "group": "housing_safety",
        "category": "illegal_construction",
        "source": "mini_program",
    }
    client = client_of(app, accounts, "supervisor")
    html = client.get("/console/stats?" + urlencode(query)).get_data(as_text=True)
    form = html[
        html.index('data-testid="filters"') : html.index("</form>", html.index('data-testid="filters"'))
    ]
    for name in ("start", "end"):
        assert f'name="{name}" value="{query[name]}"' in form
    for name in ("phase", "town", "squad", "group", "category", "source"):
        select_html = form[form.index(f'name="{name}"') :]
        select_html = select_html[: select_html.index("</select>")]
        assert re.search(rf'value="{re.escape(query[name])}" selected', select_html), name
    shown = PageFigures(html)
    flt = StatFilter(
        dt.date(2026, 4, 1),
        dt.date(2026, 11, 30),
        ("review",),
        int(query["town"]),
        int(query["squad"]),
        query["group"],
        query["category"],
        query["source"],
    )
    assert shown.rows("handling")["上报工单"] == [str(dashboard(session, flt, NOW).handling.cases)] == ["1"]
    # the exports take the same filter
    same = urlencode(flt.as_query())
    assert f'href="/console/stats/export.csv?{same}"'.replace("&", "&amp;") in html
    assert f'href="/console/stats/export.xlsx?{same}"'.replace("&", "&amp;") in html
    # a year with a phase is the phase's range, which the form then shows
    shown = page(client, "/console/stats?year=2026&phase=review")
    assert shown.text("range") == "2026-11-01 至 2026-12-31（仅总结提升）"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", ""),
        ("start=2026-11-30&end=2026-11-01", "开始日期不能晚于结束日期"),
        ("phase=spring", "未知的阶段"),
        ("year=2026", "按年份查看阶段时请选择一个阶段"),
        ("year=1999&phase=review", ""),
        ("town=abc", ""),
        ("squad=-1", ""),
        ("category=" + "x" * 60, ""),
    ],
)
def test_a_bad_filter_is_a_400_page_in_chinese(app, accounts, figures, query: str, message: str) -> None:
    response = client_of(app, accounts, "supervisor").get(f"/console/stats?{query}")
    text = response.get_data(as_text=True)
    assert response.status_code == 400, (query, response.status_code)
    assert "无法完成" in text and message in text
    assert re.search(r'<section class="card narrow"><h1>无法完成</h1><p>[^<]*[\u4e00-\u9fff]', text), text[
        -500:
    ]


def test_the_charts_draw_from_json_in_the_page_and_say_so_when_echarts_is_missing(
    app, accounts, figures, monkeypatch
) -> None:
    client = client_of(app, accounts, "supervisor")
    monkeypatch.setattr(stats_views, "ECHARTS", "console.css")  # any file in the static folder will do
    html = client.get("/console/stats").get_data(as_text=True)
    data = json.loads(
        re.search(r'<script type="application/json" id="stats-charts">(.*?)</script>', html).group(1)
    )
    containers = set(re.findall(r'data-chart="([^"]+)"', html))
    assert (
        containers == set(data) and {"trend", "towns", "categories", "phases", "rates", "hot"} <= containers
    )
    assert any(name.startswith("watch-") for name in containers)
    assert data["towns"]["labels"][:1] == ["徐泾镇"] and data["towns"]["series"][0]["values"][0] == 5
    assert 'src="/console/static/console.css"' in html and "/console/static/stats.js" in html
    assert 'data-testid="charts-missing" hidden' in html

    monkeypatch.setattr(stats_views, "ECHARTS", "vendor/not-fetched.js")
    html = client.get("/console/stats").get_data(as_text=True)
    assert "图表需要先运行 <code>make</code>" in html and "stats.js" not in html
    assert 'data-testid="by-town"' in html  # the tables stand alone


def test_the_bureau_adds_and_removes_an_estate_on_the_watch_list_audited(
    app, session: Session, accounts, figures
) -> None:
    xujing = session.scalar(select(Town).where(Town.name == "徐泾镇"))
    estate = Estate(name="测试新村", town=xujing, address="", is_key=False)
    session.add(estate)
    session.commit()
    client = client_of(app, accounts, "supervisor")
    back = "start=2026-11-01&end=2026-11-30"
    token = csrf_token(client, "/console/stats")

    def watch(**data: str):
        return client.post("/console/stats/watch", data={"csrf_token": token, "back": back, **data})

    added = watch(name="测试新村", watched="1")
    assert added.status_code == 302 and added.location == f"/console/stats?{back}#watch"
    assert "测试新村（徐泾镇）" in page(client, f"/console/stats?{back}").rows("watch")
    assert watch(estate=str(estate.id), watched="1").status_code == 302  # already on it: nothing recorded
    removed = watch(estate=str(estate.id), watched="0")
    assert removed.status_code == 302
    assert "测试新村（徐泾镇）" not in page(client, f"/console/stats?{back}").rows("watch")
    session.expire_all()
    assert session.get(Estate, estate.id).is_key is False
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.target_type == "estate", AuditEntry.target_id == str(estate.id))
    ).all()
    assert [(e.action, e.actor_id, e.detail["name"]) for e in entries] == [
        ("estate.watch", accounts["supervisor"].id, "测试新村"),
        ("estate.unwatch", accounts["supervisor"].id, "测试新村"),
    ]
    # an estate nobody knows is refused with the reason, back on the page it came from
    unknown = client.post(
        "/console/stats/watch",
        data={"csrf_token": token, "name": "没有这个小区", "watched": "1"},
        headers={"Referer": "http://localhost/console/stats"},
    )
    assert unknown.status_code == 302
    assert "没有找到这个小区" in client.get("/console/stats").get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("supervisor", True), ("admin", True), ("leader", False), ("officer", False), ("property", False)],
)
def test_only_the_bureau_changes_the_watch_list(
    app, session: Session, accounts, figures, role: str, allowed: bool
) -> None:
    estate = session.scalar(select(Estate).where(Estate.name == "宜达新居"))
    client = client_of(app, accounts, role)
    token = csrf_token(client, "/console/password")
    response = client.post(
        "/console/stats/watch", data={"csrf_token": token, "estate": str(estate.id), "watched": "0"}
    )
    session.expire_all()
    assert response.status_code == (302 if allowed else 403), (role, response.status_code)
    assert session.get(Estate, estate.id).is_key is (not allowed)


def test_the_watch_list_needs_the_forms_token(app, session: Session, accounts, figures) -> None:
    estate = session.scalar(select(Estate).where(Estate.name == "宜达新居"))
    response = client_of(app, accounts, "supervisor").post(
        "/console/stats/watch", data={"estate": str(estate.id), "watched": "0"}
    )
    session.expire_all()
    assert response.status_code == 400 and session.get(Estate, estate.id).is_key is True


# --- the monthly report and the phase summary ---------------------------------------------------------------


def test_the_monthly_report_shows_the_month_before_beside_it(
    app, session: Session, accounts, figures
) -> None:
    client = client_of(app, accounts, "supervisor")
    shown = page(client, "/console/stats/report?month=2026-11")
    assert shown.text("title") == "全区2026年11月月度报告"
    assert shown.tables["comparison"][0] == ["指标", "2026年11月", "2026年10月", "较2026年10月"]
    assert shown.rows("comparison")["上报工单"] == ["4", "2", "+2"]
    assert shown.rows("by-town") == {
        "徐泾镇": ["2", "1", "+1"],
        "夏阳街道": ["1", "1", "持平"],
        "赵巷镇": ["1", "0", "+1"],
    }
    assert shown.rows("by-source")["12345热线"] == ["1", "1", "持平"]
    assert "partial" not in shown.texts
    # one town's report: its own figures, no other town's
    xujing = town_id(session, "徐泾镇")
    shown = page(client, f"/console/stats/report?month=2026-11&town={xujing}")
    assert shown.text("title") == "徐泾镇2026年11月月度报告"
    assert shown.rows("comparison")["上报工单"] == ["2", "1", "+1"]
    assert "by-town" not in shown.tables and "company-ranking" not in shown.tables
    # without a month: the last whole month
    assert page(client, "/console/stats/report").text("title") == "全区2026年11月月度报告"
    # the month under way runs to today
    assert (
        page(client, "/console/stats/report?month=2026-12").text("partial")
        == "本月尚未结束，数据截至 2026-12-03。"
    )


def test_a_squad_leader_reads_their_own_towns_report(app, session: Session, accounts, figures) -> None:
    leader = client_of(app, accounts, "leader")
    shown = page(leader, "/console/stats/report?month=2026-11")
    assert shown.text("title") == "徐泾镇2026年11月月度报告"
    assert shown.rows("comparison")["上报工单"] == ["2", "1", "+1"]
    assert (
        page(leader, "/console/stats/phase?year=2026&phase=review").text("title")
        == "徐泾镇2026年总结提升阶段总结"
    )
    other = town_id(session, "夏阳街道")
    assert leader.get(f"/console/stats/report?month=2026-11&town={other}").status_code == 403
    assert leader.get(f"/console/stats/phase?town={other}").status_code == 403


def test_the_phase_summary_sets_the_phase_beside_last_years_and_the_one_before(
    app, accounts, figures
) -> None:
    shown = page(client_of(app, accounts, "supervisor"), "/console/stats/phase?year=2026&phase=review")
    assert shown.text("title") == "全区2026年总结提升阶段总结"
    assert shown.tables["comparison"][0] == [
        "指标",
        "2026年总结提升",
        "2025年总结提升",
        "2026年加强执法",
        "较2025年总结提升",
        "较2026年加强执法",
    ]
    # Nov–Dec 2026: four cases in November and one on 1 December; 2025's had one; July–October 2026 three
    assert shown.rows("comparison")["上报工单"] == ["5", "1", "3", "+4", "+2"]
    assert shown.rows("by-category")["违法搭建"] == ["3", "1", "1", "+2", "+2"]
    assert shown.text("partial") == "本阶段尚未结束，数据截至 2026-12-03。"


def test_the_phase_before_the_first_is_last_years_last(app, accounts, figures) -> None:
    shown = page(client_of(app, accounts, "supervisor"), "/console/stats/phase?year=2026&phase=overhaul")
    assert shown.tables["comparison"][0][1:4] == ["2026年全面整治", "2025年全面整治", "2025年总结提升"]
    assert shown.rows("comparison")["上报工单"][:3] == ["0", "0", "1"]
    assert "partial" not in shown.texts


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/console/stats/report?month=2026-13", "月份应写作 2026-11"),
        ("/console/stats/report?month=november", "月份应写作 2026-11"),
        ("/console/stats/report?month=2026-11-01", "月份应写作 2026-11"),
        ("/console/stats/report?month=2027-01", "这个月还没有开始"),
        ("/console/stats/report?month=2026-11&town=abc", ""),
        ("/console/stats/report?month=2026-11&town=999999", "没有这个街镇"),
        ("/console/stats/phase?year=2026&phase=spring", "阶段应为 overhaul"),
        ("/console/stats/phase?year=abc&phase=review", ""),
        ("/console/stats/phase?year=2027&phase=overhaul", "这个阶段还没有开始"),
    ],
)
def test_a_bad_month_or_phase_is_a_400_page_in_chinese(
    app, accounts, figures, url: str, message: str
) -> None:
    response = client_of(app, accounts, "supervisor").get(url)
    text = response.get_data(as_text=True)
    assert response.status_code == 400, (url, response.status_code)
    assert "无法完成" in text and message in text
    assert re.search(r"<h1>无法完成</h1><p>[^<]*[\u4e00-\u9fff]", text), text[-500:]


def test_the_reports_are_printable(app, accounts, figures) -> None:
    html = (
        client_of(app, accounts, "supervisor")
        .get("/console/stats/report?month=2026-11")
        .get_data(as_text=True)
    )
    assert "/console/static/stats.css" in html and "data-print" in html
    css = app.test_client().get("/console/static/stats.css")
    assert css.status_code == 200 and "@media print" in css.get_data(as_text=True)
    css.close()


def test_the_estate_page_puts_an_estate_on_the_watch_list_and_takes_it_off(
    app, session: Session, accounts
) -> None:
    xujing = session.scalar(select(Town).where(Town.name == "徐泾镇"))
    estate = Estate(name="测试东苑", town=xujing, address="", is_key=False)
    session.add(estate)
    session.commit()
    client = client_of(app, accounts, "supervisor")
    estate_page = f"/console/estates/{estate.id}/companies"
    html = client.get(estate_page).get_data(as_text=True)
    assert "列入重点关注" in html and "不在重点关注名单中" in html
    token = csrf_token(client, estate_page)
    added = client.post(
        "/console/stats/watch", data={"csrf_token": token, "estate": estate.id, "watched": "1"}
    )
    assert added.status_code == 302
    assert "移出重点关注" in client.get(estate_page).get_data(as_text=True)
    client.post("/console/stats/watch", data={"csrf_token": token, "estate": estate.id, "watched": "0"})
    session.expire_all()
    assert session.get(Estate, estate.id).is_key is False
