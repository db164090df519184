"""bench/floor_app.py, the floors of the own list and of the inbox in bench/load.py: it sends MariaDB the service's
own statements, so for the same bearer token it finds what the service's list finds (the same reports, newest
first, none of anyone else's), for the same console cookie the cases the service's inbox shows, in its order, and
it refuses what the service refuses. A floor that read something else would measure nothing."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from types import ModuleType

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import Estate, Squad
from backend.staff.services import create_staff
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users
from tests.support.console import PASSWORD, login, post


@pytest.fixture
def floor(mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    from bench import floor_app

    monkeypatch.setenv("DATABASE_URL", mariadb_url)
    monkeypatch.setattr(floor_app, "_connection", None)
    yield floor_app
    if floor_app._connection is not None:
        floor_app._connection.close()


def _file(app: Flask, token: str, estate_id: int, n: int) -> str:
    response = app.test_client().post(
        "/api/mp/v1/reports",
        json={
            "description": f"楼顶在搭阳光房，第{n}处",
            "estate_id": estate_id,
            "client_request_id": f"floor-test-{n}",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["tracking_no"])


def test_the_floor_reads_the_service_s_own_list_and_refuses_what_it_refuses(
    mariadb_app: Flask, floor: ModuleType
) -> None:
    engine = mariadb_app.extensions["db"].engine
    with Session(engine) as session:
        (reader, token), (other, other_token) = (
            make_resident(session, "floor"),
            make_resident(session, "floor2"),
        )
        estate_id = session.scalars(select(Estate.id).order_by(Estate.id)).first()
        user_ids = [reader.id, other.id]
        session.commit()
    assert estate_id is not None
    try:
        filed = [_file(mariadb_app, token, estate_id, n) for n in range(3)]
        _file(mariadb_app, other_token, estate_id, 9)  # someone else's: in neither list
        bearer = {"Authorization": f"Bearer {token}"}

        service = mariadb_app.test_client().get("/api/mp/v1/reports", headers=bearer)
        floors = floor.app.test_client().get("/reports", headers=bearer)
        assert service.status_code == floors.status_code == 200
        assert [item["tracking_no"] for item in service.get_json()["data"]] == filed[::-1]
        assert [row[1] for row in floors.get_json()["data"]] == filed[::-1]

        assert mariadb_app.test_client().post("/api/mp/v1/auth/logout", headers=bearer).status_code == 204
        for answer in (
            mariadb_app.test_client().get("/api/mp/v1/reports", headers=bearer),
            floor.app.test_client().get("/reports", headers=bearer),
        ):
            assert answer.status_code == 401  # a token logged out is refused by both
    finally:
        purge_users(engine, user_ids)


def test_the_inbox_floor_reads_the_service_s_inbox_and_refuses_a_logged_out_cookie(
    mariadb_app: Flask, floor: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(floor.app, "secret_key", mariadb_app.config["SECRET_KEY"])
    engine = mariadb_app.extensions["db"].engine
    username = "floor_" + secrets.token_hex(4)
    with Session(engine) as session:
        reader, token = make_resident(session, "floor-inbox")
        xujing = session.scalars(select(Squad).where(Squad.code == "xujing")).one()
        officer = create_staff(
            session,
            username=username,
            display_name="底线队员",
            role="officer",
            password=PASSWORD,
            squad=xujing,
        )
        estate_id = session.scalars(select(Estate.id).where(Estate.name == "康虹花园")).one()
        user_ids, staff_ids = [reader.id], [officer.id]
        session.commit()
    try:
        filed = [_file(mariadb_app, token, estate_id, 20 + n) for n in range(3)]
        console = login(mariadb_app.test_client(), username)
        cookie = console.get_cookie("session")
        assert cookie is not None
        floor_client = floor.app.test_client()
        floor_client.set_cookie("session", cookie.value)

        page = console.get("/console/inbox")
        floors = floor_client.get("/inbox")
        assert page.status_code == floors.status_code == 200
        shown = re.findall(r'data-case="([^"]+)"', page.get_data(as_text=True))
        assert set(filed) <= set(shown)  # dispatched to 徐泾: on its officer's 待签收 page
        assert [row[0] for row in floors.get_json()["data"]] == shown  # the same cases, in the same order

        assert post(console, "/console/logout").status_code == 302
        stale = mariadb_app.test_client()
        stale.set_cookie("session", cookie.value)  # a copy of the cookie from before the logout
        assert stale.get("/console/inbox").status_code == 302  # to the login
        assert floor_client.get("/inbox").status_code == 401
    finally:
        purge_users(engine, user_ids, staff_ids)
