"""The statistics as JSON: the bureau's district, a squad leader's own squad only, bad filters refused in
Chinese, and every heavy read sent to the replica when one is set."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from backend import migrate
from backend.stats.rollup import rebuild_rollups
from tests.support.console import login
from tests.support.stats import at, make_case, squad_of, town

NOW = at("2026-12-01 10:00")


@pytest.fixture
def cases(session):
    """Two cases in 徐泾 (the leader's squad) and one in 夏阳, in November 2026."""
    made = [
        make_case(session, at("2026-11-02 09:00"), town_code="xujing", source="hotline_12345"),
        make_case(session, at("2026-11-03 09:00"), town_code="xujing", category_code="group_rental"),
        make_case(session, at("2026-11-04 09:00"), town_code="xiayang"),
    ]
    rebuild_rollups(session, NOW)
    session.commit()
    return made


def test_the_bureau_reads_the_district(client, accounts, cases, session):
    login(client, "t_supervisor")
    body = client.get("/console/api/stats?start=2026-11-01&end=2026-11-30").get_json()
    assert body["handling"]["cases"] == 3
    assert {c["label"]: c["cases"] for c in body["by_source"]} == {"12345热线": 1, "小程序": 2}
    assert body["companies"] is not None and body["filter"]["start"] == "2026-11-01"
    counts = client.get("/console/api/stats/counts?by=town&start=2026-11-01&end=2026-11-30").get_json()
    assert {c["key"]: c["cases"] for c in counts["counts"]} == {
        str(town(session, "xujing").id): 2,
        str(town(session, "xiayang").id): 1,
    }
    handling = client.get("/console/api/stats/handling?group=rental&start=2026-11-01").get_json()
    assert handling["handling"]["cases"] == 1


def test_a_squad_leader_reads_only_their_squad(client, accounts, cases, session):
    login(client, "t_leader")
    body = client.get("/console/api/stats?start=2026-11-01&end=2026-11-30").get_json()
    assert body["handling"]["cases"] == 2
    assert body["filter"]["town"] == town(session, "xujing").id
    assert body["companies"] is None  # the companies' ranking is the bureau's
    assert client.get(f"/console/api/stats?town={town(session, 'xiayang').id}").status_code == 403
    assert (
        client.get(f"/console/api/stats/counts?by=town&squad={squad_of(session, 'xiayang').id}").status_code
        == 403
    )


@pytest.mark.parametrize("who", ["t_officer", "t_editor", "t_property"])
def test_others_may_not_read_statistics(client, accounts, who):
    login(client, who)
    assert client.get("/console/api/stats").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "by=town&start=2026-13-01",
        "by=town&start=2026-11-30&end=2026-11-01",
        "by=town&phase=winter",
        "by=town&year=2026",
        "by=town&town=abc",
        "by=colour",
    ],
)
def test_bad_filters_are_refused_in_chinese(client, accounts, query):
    login(client, "t_supervisor")
    response = client.get(f"/console/api/stats/counts?{query}")
    assert response.status_code == 400
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.get_data(as_text=True))


def test_statistics_read_the_replica_when_one_is_set(make_app, accounts, cases, tmp_path):
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    migrate.upgrade(replica_url)  # an empty replica: no summaries, no cases
    app = make_app(DATABASE_REPLICA_URL=replica_url, CONSOLE_LOGIN_RATE="10000 per minute")
    seen: list[str] = []
    event.listen(app.extensions["db_replica"].engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    client = app.test_client()
    login(client, "t_supervisor")  # the login writes on the primary
    body = client.get("/console/api/stats?start=2026-11-01&end=2026-11-30").get_json()
    assert body["handling"]["cases"] == 0  # what the (empty) replica holds, not the primary's three
    assert any("stat_case_rollup" in statement for statement in seen)
    assert dt.date.fromisoformat(body["filter"]["end"]) == dt.date(2026, 11, 30)
