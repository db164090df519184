"""Campaign events in the console, without a browser: a studio editor announces one through the form (a refused
form comes back with what was typed and why), edits it, reads its sign-up list by nickname, marks who came and
cancels it; the bureau reads; every other role is refused every page and every action."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.clock import MovableClock
from backend.community.events import EventInput, announce_event, sign_up
from backend.community.models import Event, EventSignup
from backend.messages.models import Message
from backend.org.models import Estate
from backend.staff.services import staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.console import csrf_token, login

NOW = dt.datetime(2026, 7, 10, 10, 0, tzinfo=SHANGHAI)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
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
READERS = {"editor", "supervisor", "admin"}
PAGES = {
    "/console/events": READERS,
    "/console/events?shown=past": READERS,
    "/console/events/new": STUDIO,
    "/console/events/{event}": READERS,
    "/console/events/{event}/edit": STUDIO,
}


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


def send(client: FlaskClient, path: str, data: dict | None = None, **kw) -> TestResponse:
    """A console form posted with the CSRF token of a page every signed-in role may open (the login page's
    for an anonymous visitor)."""
    signed_in = "staff_id" in _session_of(client)
    token = csrf_token(client, "/console/password" if signed_in else "/console/login")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def _session_of(client: FlaskClient) -> dict:
    with client.session_transaction() as flask_session:
        return dict(flask_session)


def estate_id(session: Session, name: str = "康虹花园") -> int:
    return session.scalar(select(Estate.id).where(Estate.name == name))


def an_event(session: Session, accounts, **overrides: object) -> Event:
    """An event announced by the studio's editor, committed (so the console's requests see it)."""
    fields: dict[str, object] = {
        "kind": "lecture",
        "title": "装修前先登记：普法讲座",
        "starts_at": NOW + 3 * DAY,
        "ends_at": NOW + 3 * DAY + 2 * HOUR,
        "place": "小区党群服务站二楼",
        "capacity": 30,
        "estate_id": estate_id(session),
        **overrides,
    }
    event = announce_event(session, staff_actor(accounts["editor"]), EventInput(**fields), now=NOW)  # type: ignore[arg-type]
    session.commit()
    return event


def form(session: Session, **overrides: str) -> dict[str, str]:
    return {
        "kind": "consultation",
        "title": "法律咨询进社区",
        "description": "律师和城管队员现场解答装修、群租问题",
        "starts_at": "2026-07-15T09:30",
        "ends_at": "2026-07-15T11:30",
        "town_id": "",
        "estate_id": str(estate_id(session)),
        "place": "东门广场",
        "capacity": "40",
        **overrides,
    }


# ------------------------------------------------------------------------------------------- who may


@pytest.mark.parametrize(("path", "allowed"), PAGES.items(), ids=list(PAGES))
def test_pages(app, session: Session, accounts, clock, path: str, allowed: set[str]) -> None:
    event = an_event(session, accounts)
    for role in ROLES:
        response = client_as(app, role, accounts).get(path.format(event=event.id))
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        elif role in allowed:
            assert response.status_code == 200, (path, role, response.status_code)
        else:
            assert response.status_code == 403, (path, role, response.status_code)


def fingerprint(session: Session, event_id: int) -> tuple:
    session.expire_all()
    event = session.get(Event, event_id)
    return (
        event.title,
        event.capacity,
        event.cancelled_at,
        tuple(s.attended for s in event.signups),
        session.scalar(select(func.count(Event.id))),
    )


ACTIONS: list[tuple[str, dict[str, str], bool]] = [
    # (path under /console/events, the form, whether the event must have started)
    ("", {}, False),
    ("/{event}", {"title": "改过的名称"}, False),
    ("/{event}/cancel", {"reason": "台风预警"}, False),
    ("/{event}/attendance", {"attended": "{signup}"}, True),
]


@pytest.mark.parametrize(
    ("action", "data", "started"), ACTIONS, ids=["announce", "edit", "cancel", "attendance"]
)
def test_only_the_studio_acts(
    app, session: Session, accounts, clock, action: str, data: dict, started: bool
) -> None:
    for role in ROLES:
        clock.set(NOW)
        event = an_event(session, accounts)
        signup = sign_up(session, make_resident(session, f"r-{role}")[0], event.id, now=NOW)
        session.commit()
        if started:
            clock.set(event.starts_at + HOUR)
        posted = {
            **form(session, starts_at="2026-07-13T10:00", ends_at="2026-07-13T12:00"),
            **{k: v.format(signup=signup.id) for k, v in data.items()},
        }
        before = fingerprint(session, event.id)
        response = send(
            client_as(app, role, accounts), "/console/events" + action.format(event=event.id), posted
        )
        after = fingerprint(session, event.id)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (action, role)
            assert after == before
        elif role in STUDIO:
            assert response.status_code == 302, (action, role, response.get_data(as_text=True)[-400:])
            assert after != before, (action, role, "nothing changed")
        else:
            assert response.status_code == 403, (action, role, response.status_code)
            assert after == before, (action, role, "a refused action changed the event")


# ------------------------------------------------------------------------------------------- the studio's work


def test_an_editor_announces_an_event_and_edits_it(app, session: Session, accounts, clock) -> None:
    client = login(app.test_client(), "t_editor")
    new = client.get("/console/events/new").get_data(as_text=True)
    assert "7·15 城管公众日" in new and "进社区活动周" in new and "徐泾镇" in new and "康虹花园" in new
    assert 'href="/console/events"' in client.get("/console/events").get_data(as_text=True)  # the nav link

    response = send(client, "/console/events", form(session))
    assert response.status_code == 302
    event = session.scalars(select(Event).where(Event.title == "法律咨询进社区")).one()
    assert response.location.endswith(f"/console/events/{event.id}")
    assert event.starts_at == dt.datetime(2026, 7, 15, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai
    assert event.town.name == "徐泾镇" and event.estate.name == "康虹花园" and event.capacity == 40
    page = client.get(response.location).get_data(as_text=True)
    assert (
        "已发布活动：法律咨询进社区" in page
        and "法律咨询" in page
        and "0 / 40" in page
        and "东门广场" in page
    )

    edit = client.get(f"/console/events/{event.id}/edit").get_data(as_text=True)
    assert 'value="2026-07-15T09:30"' in edit and 'value="法律咨询进社区"' in edit
    saved = send(client, f"/console/events/{event.id}", form(session, place="西门广场", capacity="50"))
    assert saved.status_code == 302
    session.expire_all()
    assert event.place == "西门广场" and event.capacity == 50


def test_a_refused_announcement_comes_back_with_what_was_typed_and_why(
    app, session: Session, accounts, clock
) -> None:
    client = login(app.test_client(), "t_editor")
    response = send(
        client, "/console/events", form(session, ends_at="2026-07-15T08:00", title="会被退回的活动")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        "结束时间须晚于开始时间" in page
        and 'value="会被退回的活动"' in page
        and 'value="2026-07-15T08:00"' in page
    )
    past = send(
        client, "/console/events", form(session, starts_at="2026-07-01T09:00", ends_at="2026-07-01T10:00")
    )
    assert past.status_code == 400 and "开始时间须晚于现在" in past.get_data(as_text=True)
    nowhere = send(client, "/console/events", form(session, estate_id=""))
    assert nowhere.status_code == 400 and "请选择活动所在的街镇或小区" in nowhere.get_data(as_text=True)
    unknown = send(client, "/console/events", form(session, kind="party"))
    assert unknown.status_code == 400 and "普法宣传" in unknown.get_data(as_text=True)  # the kinds, by name
    assert session.scalar(select(func.count(Event.id))) == 0


def test_the_sign_up_list_shows_nicknames_and_the_studio_marks_who_came(
    app, session: Session, accounts, clock
) -> None:
    event = an_event(session, accounts)
    came, absent = make_resident(session, "王阿姨")[0], make_resident(session, "李师傅")[0]
    signups = [sign_up(session, u, event.id, now=NOW) for u in (came, absent)]
    session.commit()
    client = login(app.test_client(), "t_editor")
    page = client.get(f"/console/events/{event.id}").get_data(as_text=True)
    assert "王阿姨" in page and "李师傅" in page and "2 / 30" in page
    assert came.openid not in page and absent.openid not in page
    assert 'name="attended"' not in page  # not before it starts

    early = send(client, f"/console/events/{event.id}/attendance", {"attended": str(signups[0].id)})
    assert early.status_code == 409 and "活动开始后才能登记到场情况" in early.get_data(as_text=True)

    clock.set(event.ends_at + HOUR)
    page = client.get(f"/console/events/{event.id}").get_data(as_text=True)
    assert page.count('name="attended"') == 2
    done = send(client, f"/console/events/{event.id}/attendance", {"attended": str(signups[0].id)})
    assert done.status_code == 302
    assert "到场 1 人，未到 1 人" in client.get(done.location).get_data(as_text=True)
    session.expire_all()
    assert [s.attended for s in session.get(Event, event.id).signups] == [True, False]
    supervisor = (
        login(app.test_client(), "t_supervisor").get(f"/console/events/{event.id}").get_data(as_text=True)
    )
    assert (
        "王阿姨" in supervisor and 'name="attended"' not in supervisor
    )  # the bureau reads, and acts on none


def test_cancelling_in_the_console_tells_those_signed_up(app, session: Session, accounts, clock) -> None:
    event = an_event(session, accounts)
    resident = make_resident(session, "signed")[0]
    sign_up(session, resident, event.id, now=NOW)
    session.commit()
    client = login(app.test_client(), "t_editor")
    refused = send(client, f"/console/events/{event.id}/cancel", {"reason": ""})
    assert refused.status_code == 400 and "请填写取消原因" in refused.get_data(as_text=True)
    done = send(client, f"/console/events/{event.id}/cancel", {"reason": "场地临时征用"})
    assert done.status_code == 302
    assert "已取消" in client.get(done.location).get_data(as_text=True)
    told = session.scalars(select(Message).where(Message.user_id == resident.id)).one()
    assert told.title == "活动取消" and "场地临时征用" in told.body
    assert session.scalar(select(func.count(EventSignup.id)).where(EventSignup.event_id == event.id)) == 1
    listed = client.get("/console/events?shown=cancelled").get_data(as_text=True)
    assert "装修前先登记：普法讲座" in listed


# ------------------------------------------------------------------------------------------- in a browser


@pytest.fixture
def live_studio(app, database_url: str, tmp_path):
    """The console served for real (a free port) on the suite's database, with an editor account; what the
    walk commits is removed afterwards."""
    import os
    import threading
    import uuid

    from sqlalchemy import delete, or_
    from werkzeug.serving import make_server

    from backend import create_app
    from backend.accounts.models import User
    from backend.audit.models import AuditEntry
    from backend.staff.models import StaffUser
    from backend.staff.services import create_staff
    from tests.support.cleanup import purge_users

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
    with Session(engine) as session:
        editor = create_staff(
            session,
            username=f"b_ed_{tag}",
            display_name="工作室小林",
            role="editor",
            password="browser-pass-1",
        )
        resident = User(openid=f"browser-{tag}", nickname="报名的王阿姨")
        session.add(resident)
        session.commit()
        editor_id, resident_id = editor.id, resident.id
    server = make_server("127.0.0.1", 0, live, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", f"b_ed_{tag}", "browser-pass-1", engine, resident_id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with engine.begin() as conn:
            events = select(Event.id).where(Event.created_by == editor_id)
            conn.execute(
                delete(AuditEntry).where(
                    or_(AuditEntry.actor_id == editor_id, AuditEntry.target_id == str(editor_id))
                )
            )
            conn.execute(delete(EventSignup).where(EventSignup.event_id.in_(events)))
            conn.execute(delete(Event).where(Event.created_by == editor_id))
            conn.execute(delete(StaffUser).where(StaffUser.id == editor_id))
        purge_users(engine, [resident_id])
        engine.dispose()


def test_a_studio_announces_an_event_in_a_browser_and_reads_who_signed_up(
    browser, live_studio, tmp_path
) -> None:
    from backend.accounts.models import User

    url, username, password, engine, resident_id = live_studio
    page = browser.new_page()
    page.goto(f"{url}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    page.goto(f"{url}/console/events")
    page.get_by_test_id("new-event").click()
    page.wait_for_load_state()

    day = (dt.datetime.now(SHANGHAI) + 10 * DAY).date().isoformat()
    form = page.locator('form[data-form="event"]')
    form.locator('[name="kind"]').select_option("public_day")
    form.locator('[name="title"]').fill("7·15 城管公众日：走进康虹花园")
    form.locator('[name="description"]').fill("队员讲解违法搭建的认定和拆除程序，现场答疑")
    form.locator('[name="starts_at"]').fill(f"{day}T09:30")
    form.locator('[name="ends_at"]').fill(f"{day}T08:30")  # before the start: refused, kept as typed
    form.locator('[name="estate_id"]').select_option(label="康虹花园")
    form.locator('[name="place"]').fill("小区中心广场")
    form.locator('[name="capacity"]').fill("50")
    form.get_by_role("button", name="发布活动").click()
    page.wait_for_load_state()
    assert "结束时间须晚于开始时间" in page.content()
    form = page.locator('form[data-form="event"]')
    assert form.locator('[name="title"]').input_value() == "7·15 城管公众日：走进康虹花园"
    form.locator('[name="ends_at"]').fill(f"{day}T11:30")
    form.get_by_role("button", name="发布活动").click()
    page.wait_for_load_state()
    assert "已发布活动" in page.content() and "0 / 50" in page.content(), page.content()[:800]

    with Session(engine) as session:
        event = session.scalars(select(Event).where(Event.title == "7·15 城管公众日：走进康虹花园")).one()
        assert event.town.name == "徐泾镇" and event.estate.name == "康虹花园"
        sign_up(session, session.get(User, resident_id), event.id, now=dt.datetime.now(dt.UTC))
        session.commit()
        event_id = event.id
    page.reload()
    assert "报名的王阿姨" in page.content() and "1 / 50" in page.content()
    page.get_by_role("link", name="活动", exact=True).click()  # the studio's nav
    page.wait_for_load_state()
    assert page.locator(f'tr[data-event="{event_id}"]').is_visible()
    page.screenshot(path=str(tmp_path / "studio-events.png"), full_page=True)
