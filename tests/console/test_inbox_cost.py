"""What one inbox page reads: the signed-in staff member (their squad kept per process), the count of the tab's cases, one
page of them as the columns their rows show, the notices, a leader's squad members, and the versions of the
filter's choices (categories, estates, squads), which are kept per process until they change and name the rows'
categories and estates. As many statements for a page of 3 cases as for one of 24, each of another category,
estate, town or squad: a query per row fails here. The page is read in its index's order, and a row drawn
once is drawn again only when what it shows changes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from backend import cache
from backend.clock import MovableClock
from backend.console.views import inbox as inbox_view
from backend.org.models import Estate, Squad, Town
from backend.taxonomy.models import Category
from tests.support.console import a_case, login

# The staff member, the count of the tab's cases, the page of them, the versions of the categories and of the
# estates, the notices. The estates' version twice: for the staff member's squad and for the rows' names, both
# kept per process with the estate list (a process reads a version at most once every CACHE_CHECK_SECONDS; here,
# where it is 0, at every use).
INBOX_STATEMENTS = 7
LEADER_STATEMENTS = INBOX_STATEMENTS + 1  # and the squad's members, to assign to


@pytest.fixture
def statements(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements the requests send (savepoints aside: they are the tests' own recipe), the versions of the
    cached sets read at every request so that the count does not hang on the clock."""
    monkeypatch.setattr(cache, "CHECK_SECONDS", 0)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            sent.append(" ".join(statement.split()))

    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


def _cases(session: Session, estates: list[Estate], count: int, made: list[str]) -> None:
    """Cases up to `count`, each of the next estate (round the list) and the next category."""
    categories = list(session.scalars(select(Category.code).where(Category.code != "out_of_scope")))
    while len(made) < count:
        n = len(made)
        made.append(
            a_case(
                session, estates[n % len(estates)].name, category=categories[n % len(categories)]
            ).tracking_no
        )


def _page(client: FlaskClient, path: str, statements: list[str]) -> tuple[str, int]:
    client.get(path)  # the choices are built once, by the first page after a change
    statements.clear()
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True), len(statements)


def _xujing_estates(session: Session) -> list[Estate]:
    town = session.scalar(select(Squad.town_id).where(Squad.code == "xujing"))
    return list(session.scalars(select(Estate).where(Estate.town_id == town).order_by(Estate.id)))


@pytest.mark.parametrize(("who", "bound"), [("officer", INBOX_STATEMENTS), ("leader", LEADER_STATEMENTS)])
def test_a_squads_page_costs_as_many_statements_whatever_its_cases(
    client: FlaskClient, session: Session, accounts: Any, statements: list[str], who: str, bound: int
) -> None:
    login(client, accounts[who].username)
    estates = _xujing_estates(session)
    made: list[str] = []
    counts = []
    for total in (3, 24):
        _cases(session, estates, total, made)
        html, count = _page(client, "/console/inbox?tab=to_sign", statements)
        assert all(number in html for number in made)
        counts.append(count)
    assert counts == [bound, bound], statements


def test_the_bureaus_page_costs_as_many_statements_whatever_its_cases(
    client: FlaskClient, session: Session, accounts: Any, statements: list[str]
) -> None:
    login(client, accounts["supervisor"].username)
    estates = list(session.scalars(select(Estate).order_by(Estate.id)))  # every town's, so every squad's
    made: list[str] = []
    counts = []
    for total in (3, 24):
        _cases(session, estates, total, made)
        html, count = _page(client, "/console/inbox?tab=all", statements)
        assert all(number in html for number in made)
        counts.append(count)
    assert counts == [INBOX_STATEMENTS, INBOX_STATEMENTS], statements


def test_a_squads_tab_is_read_in_the_order_of_its_index(
    client: FlaskClient, session: Session, accounts: Any, connection: Connection
) -> None:
    """A page of a tab of thousands of cases reads its own rows, not the tab's to sort them. SQLite's plan
    shows it whatever the size of the table; MariaDB's planner scans a table as small as a test's instead."""
    if connection.dialect.name != "sqlite":
        pytest.skip("MariaDB plans a scan of a table this small")
    login(client, accounts["officer"].username)
    _cases(session, _xujing_estates(session), 3, [])
    read: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "FROM case_file" in statement and "count(" not in statement:
            read.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        assert client.get("/console/inbox?tab=to_sign").status_code == 200
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert len(read) == 1
    plan = " | ".join(
        row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + read[0][0], read[0][1])
    )
    assert "USING INDEX ix_case_file_squad_inbox" in plan and "TEMP B-TREE" not in plan, plan


def _rows(html: str) -> str:
    found = re.search(r"<tbody>.*?</tbody>", html, re.S)
    assert found
    return found.group(0)


def _row(html: str, number: str) -> str:
    found = re.search(rf'<tr [^>]*data-case="{number}">.*?</tr>', html, re.S)
    assert found, number
    return found.group(0)


def test_a_row_drawn_before_shows_what_its_case_shows_now(
    app: Flask, client: FlaskClient, session: Session, accounts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox keeps the rows it has drawn; a row is drawn again when its case, its category's or estate's
    name, or which of its deadlines have passed changes, and one drawn from those kept is the row drawn anew."""
    clock = MovableClock()
    monkeypatch.setitem(app.extensions, "clock", clock)
    login(client, accounts["officer"].username)
    case = a_case(session, "康虹花园", category="illegal_construction")
    first = _row(client.get("/console/inbox").get_data(as_text=True), case.tracking_no)
    # construction in progress: urgent, its deadlines still ahead
    assert "康虹花园" in first and "已超期" not in first and 'class=" urgent"' in first
    again = _rows(client.get("/console/inbox").get_data(as_text=True))
    assert _row(again, case.tracking_no) == first
    inbox_view._drawn.clear()
    assert _rows(client.get("/console/inbox").get_data(as_text=True)) == again  # kept: as drawn anew

    category = session.get(Category, "illegal_construction")
    estate = session.get(Estate, case.estate_id)
    assert category is not None and estate is not None
    category.name, estate.name = "违建改名测试", "康虹花园改名测试"
    case.supervised = True
    session.commit()
    renamed = _row(client.get("/console/inbox").get_data(as_text=True), case.tracking_no)
    assert "违建改名测试" in renamed and "康虹花园改名测试" in renamed and "督办" in renamed

    clock.advance(dt.timedelta(days=30))  # every deadline has passed
    late = _row(client.get("/console/inbox").get_data(as_text=True), case.tracking_no)
    assert 'class="overdue urgent"' in late and "已超期" in late and "未按时到场" in late


def _options(html: str, name: str) -> list[tuple[str, str]]:
    select_html = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select_html, name
    return re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select_html.group(0))


def _by_name(session: Session, *where: Any) -> list[tuple[str, str]]:
    return [(str(e.id), e.name) for e in session.scalars(select(Estate).where(*where).order_by(Estate.name))]


def test_the_choices_are_those_of_the_actor_and_follow_a_change(
    app: Flask, client: FlaskClient, session: Session, accounts: Any
) -> None:
    login(client, accounts["officer"].username)
    html = client.get("/console/inbox").get_data(as_text=True)
    xujing = _xujing_estates(session)
    assert _options(html, "estate") == _by_name(session, Estate.town_id == xujing[0].town_id)
    categories = list(session.scalars(select(Category).order_by(Category.position)))
    assert _options(html, "category") == [(c.code, c.name) for c in categories]
    assert '<select name="squad"' not in html  # a squad filters by nothing but its own cases

    # an estate added to the squad's town and a category renamed, by another request: the next page shows both
    town = session.get(Town, xujing[0].town_id)
    added = Estate(name="徐泾测试新苑", town=town, address="")
    session.add(added)
    categories[0].name = "类别改名测试"
    session.commit()
    html = client.get("/console/inbox").get_data(as_text=True)
    assert (str(added.id), "徐泾测试新苑") in _options(html, "estate")
    assert (categories[0].code, "类别改名测试") in _options(html, "category")

    assert _options(html, "estate") == _by_name(session, Estate.town_id == xujing[0].town_id)

    bureau = login(app.test_client(), accounts["supervisor"].username)
    html = bureau.get("/console/inbox").get_data(as_text=True)
    assert _options(html, "estate") == _by_name(session, Estate.is_key)
    squads = session.scalars(select(Squad).join(Squad.town).order_by(Town.position))
    assert _options(html, "squad") == [(str(s.id), s.name) for s in squads]
