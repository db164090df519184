"""Residents' suggestions in the console, without a browser: a studio editor replies, tags, forwards and closes
one (a refused form comes back with what was typed and why), and sees its photos; the bureau reads them all;
a squad reads only those forwarded to it; property staff are refused every page; nobody sees who sent one."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.clock import MovableClock
from backend.community.models import Suggestion
from backend.community.suggestions import SuggestionInput, forward_suggestion, send_suggestion
from backend.messages.models import Message
from backend.org.models import Squad
from backend.staff.services import staff_actor
from backend.uploads.services import store_upload
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.console import csrf_token, login
from tests.support.mp_api import png_bytes

NOW = dt.datetime(2026, 8, 3, 9, 0, tzinfo=SHANGHAI)
ROLES = [
    "anonymous",
    "officer",
    "leader",
    "other_officer",
    "supervisor",
    "admin",
    "editor",
    "property",
    "manager",
    "other_property",
]
STUDIO = {"editor"}
BUREAU = {"supervisor", "admin"}
XUJING = {"officer", "leader"}  # the squad the suggestion is forwarded to
SQUADS = XUJING | {"other_officer"}
PAGES = {
    "/console/suggestions": STUDIO | BUREAU | SQUADS,  # a squad's list holds only what was forwarded to it
    "/console/suggestions?status=forwarded&forwarded=squad": STUDIO | BUREAU | SQUADS,
    "/console/suggestions/{forwarded}": STUDIO | BUREAU | XUJING,
    "/console/suggestions/{kept}": STUDIO | BUREAU,
    "/console/suggestions/{forwarded}/photos/{photo}": STUDIO | BUREAU | XUJING,
}
TEXT = "建议在小区东门增设非机动车停放区，减少消防通道被占用"


@pytest.fixture
def clock(app, monkeypatch) -> MovableClock:
    clock = MovableClock(NOW)
    monkeypatch.setitem(app.extensions, "clock", clock)
    return clock


def client_as(app, role: str, accounts) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        login(client, accounts[role].username)
    return client


def send(client: FlaskClient, path: str, data: dict | None = None) -> TestResponse:
    with client.session_transaction() as flask_session:
        signed_in = "staff_id" in flask_session
    token = csrf_token(client, "/console/password" if signed_in else "/console/login")
    return client.post(path, data={**(data or {}), "csrf_token": token})


class Sent:
    """A resident's two suggestions, committed: one with a photo forwarded to 徐泾中队, one kept by the studio."""

    def __init__(self, app, session: Session, accounts) -> None:
        self.resident = make_resident(session, "建议人")[0]
        upload = store_upload(session, app.extensions["storage"], self.resident.id, png_bytes())
        self.photo = upload.id
        self.forwarded = self.suggest(session, "forwarded", [self.photo])
        self.kept = self.suggest(session, "kept", [])
        xujing = session.scalars(select(Squad).where(Squad.code == "xujing")).one()
        forward_suggestion(
            session,
            staff_actor(accounts["editor"]),
            self.forwarded.id,
            squad_id=xujing.id,
            note="请核实",
            now=NOW,
        )
        session.commit()

    def suggest(self, session: Session, request_id: str, photos: list[str]) -> Suggestion:
        data = SuggestionInput(text=TEXT, photo_ids=photos, client_request_id=f"console-{request_id}")
        return send_suggestion(session, self.resident, data, now=NOW)[0]

    def paths(self, path: str) -> str:
        return path.format(forwarded=self.forwarded.id, kept=self.kept.id, photo=self.photo)


@pytest.fixture
def sent(app, session: Session, accounts) -> Sent:
    return Sent(app, session, accounts)


# ------------------------------------------------------------------------------------------- who may


@pytest.mark.parametrize(("path", "allowed"), PAGES.items(), ids=list(PAGES))
def test_pages(app, session: Session, accounts, sent: Sent, clock, path: str, allowed: set[str]) -> None:
    for role in ROLES:
        response = client_as(app, role, accounts).get(sent.paths(path))
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        elif role in allowed:
            assert response.status_code == 200, (path, role, response.status_code)
        elif role in SQUADS | STUDIO | BUREAU:
            assert response.status_code == 404, (path, role, response.status_code)  # not forwarded to them
        else:
            assert response.status_code == 403, (path, role, response.status_code)  # property staff: never


def test_a_squad_lists_only_what_was_forwarded_to_it(
    app, session: Session, accounts, sent: Sent, clock
) -> None:
    def listed(role: str) -> set[int]:
        page = client_as(app, role, accounts).get("/console/suggestions").get_data(as_text=True)
        return {s.id for s in (sent.forwarded, sent.kept) if f'data-suggestion="{s.id}"' in page}

    assert listed("editor") == listed("supervisor") == {sent.forwarded.id, sent.kept.id}
    assert listed("officer") == listed("leader") == {sent.forwarded.id}
    assert listed("other_officer") == set()
    squad_page = client_as(app, "officer", accounts).get(f"/console/suggestions/{sent.forwarded.id}")
    text = squad_page.get_data(as_text=True)
    assert TEXT in text and "请核实" in text and "<summary>答复</summary>" not in text  # read-only


def fingerprint(session: Session, suggestion_id: int) -> tuple:
    session.expire_all()
    s = session.get(Suggestion, suggestion_id)
    return (s.status, s.reply, tuple(s.tags), s.forwarded_squad_id, s.forwarded_to_bureau, len(s.events))


ACTIONS = [
    ("reply", {"reply": "感谢建议，已转物业研究"}),
    ("tags", {"tags": "停车、消防通道"}),
    ("forward", {"to": "bureau", "note": "涉及全区"}),
    ("close", {"note": "已落实"}),
]


@pytest.mark.parametrize(("action", "data"), ACTIONS, ids=[a for a, _ in ACTIONS])
def test_only_the_studio_acts(
    app, session: Session, accounts, sent: Sent, clock, action: str, data: dict
) -> None:
    for role in ROLES:
        suggestion = sent.suggest(session, f"{action}-{role}", [])
        session.commit()
        before = fingerprint(session, suggestion.id)
        response = send(
            client_as(app, role, accounts), f"/console/suggestions/{suggestion.id}/{action}", data
        )
        after = fingerprint(session, suggestion.id)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (action, role)
            assert after == before
        elif role in STUDIO:
            assert response.status_code == 302, (action, role, response.get_data(as_text=True)[-400:])
            assert after != before, (action, role, "nothing changed")
        else:
            assert response.status_code == 403, (action, role, response.status_code)
            assert after == before, (action, role, "a refused action changed the suggestion")


# ------------------------------------------------------------------------------------------- the studio's work


def test_an_editor_answers_a_suggestion_step_by_step_and_the_resident_is_told(
    app, session: Session, accounts, sent: Sent, clock
) -> None:
    client = login(app.test_client(), "t_editor")
    path = f"/console/suggestions/{sent.kept.id}"
    page = client.get(path).get_data(as_text=True)
    assert TEXT in page and f"/console/suggestions/{sent.kept.id}" in page
    assert sent.resident.openid not in page and "建议人" not in page  # nobody sees who sent it
    assert 'href="/console/suggestions"' in page  # the nav link

    refused = send(client, path + "/reply", {"reply": "   "})
    assert refused.status_code == 400 and "请填写答复内容" in refused.get_data(as_text=True)
    refused = send(client, path + "/forward", {"to": "", "note": "说明会保留"})
    assert refused.status_code == 400
    assert "请选择转交给哪个中队" in refused.get_data(as_text=True) and "说明会保留" in refused.get_data(
        as_text=True
    )

    assert send(client, path + "/reply", {"reply": "感谢建议，已转物业研究"}).status_code == 302
    assert send(client, path + "/tags", {"tags": "停车、消防通道"}).status_code == 302
    xiayang = session.scalar(select(Squad.id).where(Squad.code == "xiayang"))
    assert send(client, path + "/forward", {"to": str(xiayang), "note": "请夏阳中队核实"}).status_code == 302
    closed = send(client, path + "/close", {"note": "物业已划出停放区"})
    assert closed.status_code == 302
    page = client.get(closed.location).get_data(as_text=True)
    assert (
        "已办结，并已通知居民" in page and "停车" in page and "夏阳中队" in page and "请夏阳中队核实" in page
    )
    assert "<summary>答复</summary>" not in page  # closed: nothing more to answer

    session.expire_all()
    suggestion = session.get(Suggestion, sent.kept.id)
    assert suggestion.status == "closed" and suggestion.tags == ["停车", "消防通道"]
    titles = session.scalars(
        select(Message.title).where(Message.user_id == sent.resident.id).order_by(Message.id)
    ).all()
    # the forward of the other suggestion (by the fixture) and this one's reply, forward and close
    assert titles == ["您的建议已转交", "您的建议有了答复", "您的建议已转交", "您的建议已办结"]
    again = send(client, path + "/reply", {"reply": "再答复"})
    assert again.status_code == 409 and "已办结" in again.get_data(as_text=True)


def test_filters(app, session: Session, accounts, sent: Sent, clock) -> None:
    client = login(app.test_client(), "t_editor")
    send(client, f"/console/suggestions/{sent.kept.id}/tags", {"tags": "停车"})

    def listed(query: str) -> set[int]:
        page = client.get("/console/suggestions?" + query).get_data(as_text=True)
        return {s.id for s in (sent.forwarded, sent.kept) if f'data-suggestion="{s.id}"' in page}

    assert listed("tag=停车") == {sent.kept.id}
    assert listed("forwarded=squad") == {sent.forwarded.id}
    assert listed("status=received") == {sent.kept.id}
    assert listed("status=nonsense") == {sent.forwarded.id, sent.kept.id}  # an unknown filter is no filter
    xujing = session.scalar(select(Squad.id).where(Squad.code == "xujing"))
    assert listed(f"squad={xujing}") == {sent.forwarded.id}


def test_editors_see_the_photos(app, session: Session, accounts, sent: Sent, clock) -> None:
    client = login(app.test_client(), "t_editor")
    page = client.get(f"/console/suggestions/{sent.forwarded.id}").get_data(as_text=True)
    photo_path = f"/console/suggestions/{sent.forwarded.id}/photos/{sent.photo}"
    assert photo_path in page
    response = client.get(photo_path)
    assert response.status_code == 200 and response.mimetype.startswith("image/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/console/suggestions/{sent.kept.id}/photos/{sent.photo}").status_code == 404
    assert client.get(f"/console/suggestions/{sent.forwarded.id}/photos/not-a-photo").status_code == 404
    other = make_resident(session, "stranger")[0]
    stranger_photo = store_upload(session, app.extensions["storage"], other.id, png_bytes("blue")).id
    session.commit()
    assert client.get(f"/console/suggestions/{sent.forwarded.id}/photos/{stranger_photo}").status_code == 404
