"""Suggestions over the mini-program API: a resident sends one with their own photos (a retry is the same one),
reads their own with its public record and the studio's reply, and is told in their messages; another
resident's is not found; the refusals say what is wrong in Chinese."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.workflow import Actor
from backend.clock import MovableClock
from backend.community.models import Suggestion
from backend.community.suggestions import (
    close_suggestion,
    forward_suggestion,
    reply_to_suggestion,
    tag_suggestion,
)
from backend.org.models import Squad
from backend.staff.services import create_staff, staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id, png_bytes

NOW = dt.datetime(2026, 8, 3, 9, 0, tzinfo=SHANGHAI)
TEXT = "建议在小区东门增设非机动车停放区，减少消防通道被占用"


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


def upload(client: FlaskClient, token: str, color: str = "red") -> str:
    response = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes(color)), "p.png")}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def body(**overrides: object) -> dict:
    return {"text": TEXT, "client_request_id": "suggest-0001", **overrides}


def test_a_resident_sends_a_suggestion_and_follows_it_to_the_end(
    client: FlaskClient, session: Session, resident, editor: Actor, clock
) -> None:
    _user, token = resident
    photo = upload(client, token)
    sent = client.post(
        API + "/suggestions",
        json=body(photos=[photo], estate_id=estate_id(session), category="common_area_occupation"),
        headers=auth(token),
    )
    assert sent.status_code == 201, sent.get_json()
    first = sent.get_json()
    assert first["status"] == "received" and first["status_label"] == "已收到"
    assert first["estate"]["name"] == "康虹花园" and first["category"]["code"] == "common_area_occupation"
    assert first["record"] == [{"action": "submit", "text": "已收到您的建议", "at": first["record"][0]["at"]}]
    [shown] = first["photos"]
    assert shown["id"] == photo and client.get(shown["url"]).status_code == 200  # the signed link works
    assert (
        client.get(f"{API}/uploads/{photo}", headers=auth(token)).status_code == 200
    )  # and so does the owner

    retried = client.post(API + "/suggestions", json=body(photos=[photo]), headers=auth(token))
    assert retried.status_code == 200 and retried.get_json()["id"] == first["id"]

    suggestion_id = first["id"]
    reply_to_suggestion(session, editor, suggestion_id, "感谢建议，已转物业研究", now=NOW)
    tag_suggestion(session, editor, suggestion_id, ["停车"], now=NOW)
    xujing = session.scalar(select(Squad.id).where(Squad.code == "xujing"))
    forward_suggestion(session, editor, suggestion_id, squad_id=xujing, note="请队员核实东门", now=NOW)
    close_suggestion(session, editor, suggestion_id, "东门已划出停放区", now=NOW)
    session.commit()

    detail = client.get(f"{API}/suggestions/{suggestion_id}", headers=auth(token)).get_json()
    assert detail["status"] == "closed" and detail["reply"] == "感谢建议，已转物业研究"
    assert detail["forwarded_to"] == ["徐泾中队"]
    assert [(s["action"], s["text"]) for s in detail["record"]] == [
        ("submit", "已收到您的建议"),
        ("reply", "答复：感谢建议，已转物业研究"),
        ("forward", "已转交徐泾中队研究办理"),
        ("close", "已办结：东门已划出停放区"),
    ]
    raw = str(detail)
    assert "停车" not in raw and "请队员核实" not in raw and "tags" not in detail  # the studio's own

    messages = client.get(API + "/messages", headers=auth(token)).get_json()
    titles = [m["title"] for m in messages["data"]]
    assert titles == ["您的建议已办结", "您的建议已转交", "您的建议有了答复"]  # newest first
    assert messages["unread"] == 3 and all(m["tracking_no"] is None for m in messages["data"])

    listed = client.get(API + "/suggestions", headers=auth(token)).get_json()
    assert [s["id"] for s in listed["data"]] == [suggestion_id] and listed["pagination"]["total"] == 1
    assert listed["data"][0]["record"] == [] and listed["data"][0]["photos"] == []  # the list is a summary


def test_another_residents_suggestion_is_not_found(
    client: FlaskClient, session: Session, resident, clock
) -> None:
    _user, token = resident
    _other, other_token = make_resident(session, "neighbour")
    session.commit()
    photo = upload(client, token)
    sent = client.post(API + "/suggestions", json=body(photos=[photo]), headers=auth(token)).get_json()
    hidden = client.get(f"{API}/suggestions/{sent['id']}", headers=auth(other_token))
    assert hidden.status_code == 404 and hidden.get_json()["code"] == "suggestion_not_found"
    assert client.get(API + "/suggestions", headers=auth(other_token)).get_json()["data"] == []
    assert client.get(f"{API}/uploads/{photo}", headers=auth(other_token)).status_code == 404
    # the same client_request_id from another resident is their own suggestion, not the first one's
    theirs = client.post(API + "/suggestions", json=body(), headers=auth(other_token))
    assert theirs.status_code == 201 and theirs.get_json()["id"] != sent["id"]
    assert client.get(f"{API}/suggestions/2000000000", headers=auth(token)).status_code == 404


def test_refusals_say_what_is_wrong(client: FlaskClient, session: Session, resident, clock) -> None:
    _user, token = resident
    _other, other_token = make_resident(session, "other")
    session.commit()
    theirs = upload(client, other_token)

    def refused(**overrides: object) -> dict[str, str]:
        response = client.post(API + "/suggestions", json=body(**overrides), headers=auth(token))
        assert response.status_code == 400, response.get_json()
        return {e["field"]: e["message"] for e in response.get_json()["errors"]}

    assert "请用文字描述问题" in refused(text="？？？？？？？？？？？？")["text"]
    assert refused(text="太短了")["text"] == "至少 10 个字符"
    assert refused(photos=[theirs])["photos"] == "照片不存在或已过期，请重新上传"
    assert refused(photos=["a" * 32] * 10)["photos"] == "最多 9 项"
    assert refused(client_request_id="x")["client_request_id"] == "应为 8–64 位字母、数字、下划线或连字符"
    assert refused(category="fireworks")["category"].startswith("应为以下之一")
    assert refused(estate_id=2_000_000_000)["estate_id"] == "没有这个小区"
    assert session.scalar(select(Suggestion.id)) is None
    assert client.post(API + "/suggestions", json=body()).status_code == 401
