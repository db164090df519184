"""Campaign events over the mini-program API: the upcoming ones near the resident (their estates and towns, or
the whole district), one event's places left, signing up (not twice, not past the capacity, not after the
start) and cancelling (the place is free again); nothing without a token."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import ResidentEstate
from backend.cases.workflow import Actor
from backend.clock import MovableClock
from backend.community.events import EventInput, announce_event, cancel_event
from backend.community.models import Event
from backend.org.models import Town
from backend.staff.services import create_staff, staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id

NOW = dt.datetime(2026, 7, 10, 10, 0, tzinfo=SHANGHAI)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture
def clock(app, monkeypatch) -> MovableClock:
    clock = MovableClock(NOW)
    monkeypatch.setitem(app.extensions, "clock", clock)
    return clock


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="mp_editor", display_name="工作室", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def announce(session: Session, editor: Actor, title: str, **overrides: object) -> Event:
    fields: dict[str, object] = {
        "kind": "lecture",
        "title": title,
        "starts_at": NOW + 3 * DAY,
        "ends_at": NOW + 3 * DAY + 2 * HOUR,
        "place": "活动室",
        "capacity": 30,
        "estate_id": estate_id(session),
        **overrides,
    }
    event = announce_event(session, editor, EventInput(**fields), now=NOW)  # type: ignore[arg-type]
    session.commit()
    return event


def test_the_events_near_me_and_the_whole_district_when_i_chose_no_estate(
    client: FlaskClient, session: Session, resident, editor: Actor, clock
) -> None:
    user, token = resident
    at_home = announce(session, editor, "康虹花园普法讲座")
    xujing = session.scalar(select(Town.id).where(Town.code == "xujing"))
    in_town = announce(
        session,
        editor,
        "徐泾镇城管公众日",
        kind="public_day",
        estate_id=None,
        town_id=xujing,
        starts_at=NOW + DAY,
        ends_at=NOW + DAY + HOUR,
    )
    elsewhere = announce(
        session, editor, "赵巷活动周", kind="outreach_week", estate_id=estate_id(session, "新华联雅苑")
    )
    called_off = announce(session, editor, "取消的咨询")
    cancel_event(session, editor, called_off.id, "场地冲突", now=NOW)
    session.commit()
    mine = {at_home.id, in_town.id, elsewhere.id, called_off.id}

    everything = client.get(API + "/events", query_string={"per_page": 100}, headers=auth(token)).get_json()
    assert everything["near"] is False
    assert {e["id"] for e in everything["data"]} & mine == {at_home.id, in_town.id, elsewhere.id}

    session.add(ResidentEstate(user_id=user.id, estate_id=estate_id(session)))
    session.commit()
    near = client.get(API + "/events", headers=auth(token)).get_json()
    assert near["near"] is True
    listed = [e for e in near["data"] if e["id"] in mine]
    assert [e["id"] for e in listed] == [in_town.id, at_home.id]  # soonest first
    town_day, lecture = listed
    assert town_day["kind"] == "public_day" and town_day["kind_label"] == "7·15 城管公众日"
    assert town_day["estate"] is None and town_day["town"] == {"code": "xujing", "name": "徐泾镇"}
    assert town_day["at_my_estate"] is False and lecture["at_my_estate"] is True
    assert lecture["estate"]["name"] == "康虹花园" and lecture["places_left"] == 30
    assert lecture["status"] == "upcoming" and lecture["status_label"] == "报名中"
    assert lecture["can_sign_up"] is True and lecture["signed_up"] is False
    assert lecture["starts_at"].startswith("2026-07-13T02:00:00")  # UTC
    assert near["pagination"]["total"] >= 2


def test_signing_up_once_within_the_capacity_and_cancelling(
    client: FlaskClient, session: Session, resident, editor: Actor, clock
) -> None:
    _user, token = resident
    _other, other_token = make_resident(session, "neighbour")
    _third, third_token = make_resident(session, "third")
    session.commit()
    event = announce(session, editor, "只有两个名额的咨询", capacity=2)
    path = f"{API}/events/{event.id}/signup"

    signed = client.post(path, headers=auth(token))
    assert signed.status_code == 201
    body = signed.get_json()
    assert body["signed_up"] is True and body["places_left"] == 1 and body["can_cancel"] is True
    assert body["can_sign_up"] is False
    twice = client.post(path, headers=auth(token))
    assert twice.status_code == 409 and twice.get_json()["code"] == "already_signed_up"
    assert "已报名" in twice.get_json()["message"]
    assert client.post(path, headers=auth(other_token)).status_code == 201
    full = client.post(path, headers=auth(third_token))
    assert full.status_code == 409 and full.get_json()["code"] == "event_full"
    assert full.get_json()["message"] == "名额已满"
    detail = client.get(f"{API}/events/{event.id}", headers=auth(third_token)).get_json()
    assert detail["places_left"] == 0 and detail["can_sign_up"] is False and detail["signed_up"] is False

    cancelled = client.delete(path, headers=auth(token))
    assert cancelled.status_code == 200
    assert cancelled.get_json()["signed_up"] is False and cancelled.get_json()["places_left"] == 1
    assert client.delete(path, headers=auth(token)).status_code == 409  # not signed up any more
    assert client.post(path, headers=auth(third_token)).status_code == 201  # the freed place

    mine = client.get(API + "/events/signups", headers=auth(third_token)).get_json()
    assert [e["id"] for e in mine["data"]] == [event.id] and mine["data"][0]["signed_up"] is True
    assert client.get(API + "/events/signups", headers=auth(token)).get_json()["data"] == []


def test_not_after_the_start_and_not_a_cancelled_or_unknown_event(
    client: FlaskClient, session: Session, resident, editor: Actor, clock
) -> None:
    _user, token = resident
    event = announce(session, editor, "马上开始的讲座")
    assert client.post(f"{API}/events/{event.id}/signup", headers=auth(token)).status_code == 201
    clock.set(event.starts_at + HOUR)
    late = client.post(f"{API}/events/{event.id}/signup", headers=auth(make_resident(session, "late")[1]))
    assert late.status_code == 409 and late.get_json()["code"] == "event_started"
    stay = client.delete(f"{API}/events/{event.id}/signup", headers=auth(token))
    assert stay.status_code == 409 and "活动已开始" in stay.get_json()["message"]
    detail = client.get(f"{API}/events/{event.id}", headers=auth(token)).get_json()
    assert detail["status"] == "ongoing" and detail["can_cancel"] is False and detail["signed_up"] is True

    clock.set(NOW)
    off = announce(session, editor, "取消的讲座")
    cancel_event(session, editor, off.id, "场地冲突", now=NOW)
    session.commit()
    refused = client.post(f"{API}/events/{off.id}/signup", headers=auth(token))
    assert refused.status_code == 409 and refused.get_json()["code"] == "event_cancelled"
    assert client.get(f"{API}/events/{off.id}", headers=auth(token)).get_json()["status"] == "cancelled"
    missing = client.get(f"{API}/events/2000000000", headers=auth(token))
    assert missing.status_code == 404 and missing.get_json()["message"] == "没有这个活动"
    assert client.post(f"{API}/events/2000000000/signup", headers=auth(token)).status_code == 404


def test_a_token_is_needed(client: FlaskClient, session: Session, editor: Actor, clock) -> None:
    event = announce(session, editor, "需要登录")
    for method, path in [
        ("get", "/events"),
        ("get", "/events/signups"),
        ("get", f"/events/{event.id}"),
        ("post", f"/events/{event.id}/signup"),
        ("delete", f"/events/{event.id}/signup"),
    ]:
        response = getattr(client, method)(API + path)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["code"] == "missing_token"
