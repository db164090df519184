"""The console over HTTP: logging in, CSRF, throttling, the inbox, the case page and its actions."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseSource, CaseStatus
from backend.cases.services.reads import get_case
from backend.console.blueprint import limiter
from backend.errors import ValidationFailed
from backend.org.models import Estate
from tests.support.console import PASSWORD, a_case, csrf_token, login, post


def test_login_page_and_wrong_password(client: FlaskClient, accounts) -> None:
    assert client.get("/console/inbox").status_code == 302
    page = client.get("/console/login")
    assert page.status_code == 200 and "工作台登录" in page.get_data(as_text=True)
    wrong = client.post(
        "/console/login", data={"username": "t_officer", "password": "nope", "csrf_token": csrf_token(client)}
    )
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    no_csrf = client.post("/console/login", data={"username": "t_officer", "password": PASSWORD})
    assert no_csrf.status_code == 400
    login(client, "t_officer")
    assert client.get("/console/inbox").status_code == 200


def test_repeated_failures_lock_the_account(client: FlaskClient, accounts) -> None:
    for _ in range(5):
        client.post(
            "/console/login",
            data={"username": "t_leader", "password": "bad", "csrf_token": csrf_token(client)},
        )
    locked = client.post(
        "/console/login",
        data={"username": "t_leader", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert locked.status_code == 401


def test_logins_are_throttled_per_address(make_app, accounts) -> None:
    app = make_app(CONSOLE_LOGIN_RATE="3 per minute")
    with app.app_context():
        limiter.reset()  # the counts of earlier tests in this minute (kept in Redis in CI)
    client = app.test_client()
    statuses = [
        client.post(
            "/console/login",
            data={"username": "t_admin", "password": "bad", "csrf_token": csrf_token(client)},
        ).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [401, 401, 401] and statuses[3] == 429


def test_inbox_tabs_and_filters(client: FlaskClient, session: Session, accounts) -> None:
    mine = a_case(session)
    other = a_case(session, estate="宜达新居")  # 夏阳
    login(client, "t_officer")
    html = client.get("/console/inbox?tab=to_sign").get_data(as_text=True)
    assert mine.tracking_no in html and other.tracking_no not in html
    assert mine.tracking_no not in client.get("/console/inbox?tab=to_sign&category=garbage_sorting").get_data(
        as_text=True
    )
    assert mine.tracking_no in client.get("/console/inbox?tab=to_sign&key=1").get_data(as_text=True)
    assert mine.tracking_no not in client.get("/console/inbox?tab=to_sign&source=hotline_12345").get_data(
        as_text=True
    )


def test_bulk_sign_and_assign(client: FlaskClient, session: Session, accounts) -> None:
    first, second = a_case(session), a_case(session)
    login(client, "t_leader")
    signed = post(
        client, "/console/inbox/bulk", {"action": "sign", "cases": [first.tracking_no, second.tracking_no]}
    )
    assert signed.status_code == 302
    assigned = post(
        client,
        "/console/inbox/bulk",
        {"action": "assign", "cases": [first.tracking_no], "assignee": accounts["officer2"].id},
    )
    assert assigned.status_code == 302
    session.expire_all()
    assert {get_case(session, first.tracking_no).status, get_case(session, second.tracking_no).status} == {
        "signed"
    }
    assert get_case(session, first.tracking_no).assignee_id == accounts["officer2"].id
    login(client.application.test_client(), "t_officer2")


def test_case_page_masks_the_phone_and_logs_the_reveal(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    login(client, "t_officer")
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page
    assert "上海市拆除违法建筑若干规定" in page  # the legal basis
    shown = post(client, f"/console/cases/{case.tracking_no}/reveal-phone")
    assert "13812345678" in shown.get_data(as_text=True)
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == case.tracking_no)).all()
    assert "case.reveal_phone" in actions and "case.view" in actions


def test_anonymous_reports_show_no_contact_at_all(client: FlaskClient, session: Session, accounts) -> None:
    case = a_case(session, anonymous=True)
    login(client, "t_supervisor")
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert "匿名反映" in page and "5678" not in page
    assert "13812345678" not in post(client, f"/console/cases/{case.tracking_no}/reveal-phone").get_data(
        as_text=True
    )


def test_the_squad_works_a_case_through_the_console(client: FlaskClient, session: Session, accounts) -> None:
    case = a_case(session)
    number = case.tracking_no
    login(client, "t_officer")
    for name, data in [
        ("sign", {}),
        ("investigate", {}),
        ("verify", {"note": "现场确认"}),
        ("handle", {"action": "penalty", "amount": "5000", "decision_no": "青城管罚〔2026〕1号"}),
        ("resolve", {"public_reply": "已处罚并责令拆除。"}),
    ]:
        response = post(client, f"/console/cases/{number}/do/{name}", data)
        assert response.status_code == 302, (name, response.get_data(as_text=True)[:300])
    post(client, f"/console/cases/{number}/note", {"note": "已回访当事人"})
    session.expire_all()
    done = get_case(session, number)
    assert done.status == CaseStatus.RESOLVED and done.public_reply == "已处罚并责令拆除。"
    handle = next(e for e in done.events if e.action == "handle")
    assert handle.data["amount"] == 5000.0 and handle.data["decision_no"] == "青城管罚〔2026〕1号"
    assert any(e.action == "note" and not e.public for e in done.events)


def test_refused_actions_explain_themselves(client: FlaskClient, session: Session, accounts) -> None:
    case = a_case(session)
    login(client, "t_officer")
    early = post(
        client,
        f"/console/cases/{case.tracking_no}/do/resolve",
        {"public_reply": "x"},
        headers={"Referer": f"/console/cases/{case.tracking_no}"},
        follow_redirects=True,
    )
    assert "不能进行此操作" in early.get_data(as_text=True)
    bad_penalty = post(client, f"/console/cases/{case.tracking_no}/do/sign")
    assert bad_penalty.status_code == 302
    post(client, f"/console/cases/{case.tracking_no}/do/investigate")
    post(client, f"/console/cases/{case.tracking_no}/do/verify")
    no_decision = post(
        client,
        f"/console/cases/{case.tracking_no}/do/handle",
        {"action": "penalty"},
        headers={"Referer": f"/console/cases/{case.tracking_no}"},
        follow_redirects=True,
    )
    assert "处罚需填写决定书文号" in no_decision.get_data(as_text=True)  # the reason, not a generic refusal
    no_amount = post(
        client,
        f"/console/cases/{case.tracking_no}/do/handle",
        {"action": "penalty", "decision_no": "青城管罚〔2026〕2号"},
        headers={"Referer": f"/console/cases/{case.tracking_no}"},
        follow_redirects=True,
    )
    assert "处罚需填写罚款金额" in no_amount.get_data(as_text=True)


def test_return_then_bureau_redispatches(client: FlaskClient, session: Session, accounts) -> None:
    case = a_case(session)
    login(client, "t_officer")
    assert (
        post(
            client, f"/console/cases/{case.tracking_no}/do/return", {"reason_code": "not_our_area"}
        ).status_code
        == 302
    )
    bureau = client.application.test_client()
    login(bureau, "t_supervisor")
    assert case.tracking_no in bureau.get("/console/triage").get_data(as_text=True)  # waiting on the bureau
    from backend.org.models import Squad

    zhaoxiang = session.scalar(select(Squad.id).where(Squad.code == "zhaoxiang"))
    assert (
        post(bureau, f"/console/cases/{case.tracking_no}/do/dispatch", {"squad": zhaoxiang}).status_code
        == 302
    )
    session.expire_all()
    moved = get_case(session, case.tracking_no)
    assert moved.status == CaseStatus.DISPATCHED and moved.squad.name == "赵巷中队"
    assert case.tracking_no not in bureau.get("/console/triage").get_data(as_text=True)


def test_merge_tells_both_reporters(client: FlaskClient, session: Session, accounts) -> None:
    from backend.messages.models import Message

    parent, child = (
        a_case(session),
        a_case(session, estate="康虹花园", description="同一个阳光房，楼顶又在加盖了"),
    )
    login(client, "t_officer")
    response = post(client, f"/console/cases/{child.tracking_no}/do/merge", {"parent": parent.tracking_no})
    assert response.status_code == 302
    session.expire_all()
    assert get_case(session, child.tracking_no).parent_id == parent.id
    parent_msgs = session.scalars(select(Message.body).where(Message.case_id == parent.id)).all()
    child_msgs = session.scalars(select(Message.body).where(Message.case_id == child.id)).all()
    assert any("并入本工单" in b for b in parent_msgs)
    assert any(parent.tracking_no in b for b in child_msgs)


def test_intake_of_an_inspection_finding(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_officer")
    response = post(
        client,
        "/console/intake",
        {
            "source": "squad_inspection",
            "category": "green_space_damage",
            "description": "巡查发现小区绿地被挖开种菜，面积约二十平方米",
            "address": "徐泾镇某小区东侧绿地",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    case = session.scalar(select(Case).where(Case.source == CaseSource.INSPECTION).order_by(Case.id.desc()))
    assert case.squad.name == "徐泾中队" and case.status == CaseStatus.DISPATCHED


def test_admin_creates_an_account(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_admin")
    response = post(
        client,
        "/console/users",
        {
            "username": "new_one",
            "display_name": "新队员",
            "role": "officer",
            "password": "a-long-password",
            "squad": accounts["officer"].squad_id,
        },
    )
    assert response.status_code == 302
    fresh = client.application.test_client()
    login(fresh, "new_one", "a-long-password")


def test_users_create_command(cli_runner, session: Session) -> None:
    result = cli_runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "cli_leader",
            "--name",
            "赵队长",
            "--role",
            "squad_leader",
            "--squad",
            "徐泾",
            "--password",
            "another-long-one",
        ]
    )
    assert result.exit_code == 0, result.output
    bad = cli_runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            "x",
            "--name",
            "x",
            "--role",
            "officer",
            "--password",
            "another-long-one",
        ]
    )
    assert bad.exit_code != 0 and "中队" in bad.output


def test_overdue_list_uses_the_injected_clock(client: FlaskClient, session: Session, accounts, app) -> None:
    from backend.clock import MovableClock

    case = a_case(session)
    login(client, "t_supervisor")
    assert case.tracking_no not in client.get("/console/overdue").get_data(as_text=True)
    clock = MovableClock(case.due_at + dt.timedelta(minutes=1))
    app.extensions["clock"], saved = clock, app.extensions["clock"]
    try:
        assert case.tracking_no in client.get("/console/overdue").get_data(as_text=True)
    finally:
        app.extensions["clock"] = saved


def test_the_sweep_tells_the_squad_and_escalates_to_the_bureau(
    client: FlaskClient, session: Session, accounts
) -> None:
    from backend.cases.supervision import sweep_deadlines

    case = a_case(session)
    sweep_deadlines(
        session,
        case.due_at + dt.timedelta(hours=30),
        due_soon=dt.timedelta(hours=4),
        escalate_after=dt.timedelta(hours=24),
    )
    session.commit()
    login(client, "t_leader")
    inbox = client.get("/console/inbox").get_data(as_text=True)
    assert 'data-notice="overdue"' in inbox and f"工单 {case.tracking_no}" in inbox
    bureau = client.application.test_client()
    login(bureau, "t_supervisor")
    assert 'data-notice="escalated"' in bureau.get("/console/inbox").get_data(as_text=True)
    other = client.application.test_client()
    login(other, "t_other_officer")
    assert "data-notice" not in other.get("/console/inbox").get_data(as_text=True)
    ids = [n for n in __import__("re").findall(r'name="ids" value="(\d+)"', inbox)]
    assert post(client, "/console/notices/read", {"ids": ids}).status_code == 302
    assert "提醒" not in client.get("/console/inbox").get_data(as_text=True)


def test_inbox_filters_by_estate(client: FlaskClient, session: Session, accounts) -> None:
    kanghong = a_case(session)
    login(client, "t_officer")
    estate_id = kanghong.estate_id
    assert kanghong.tracking_no in client.get(f"/console/inbox?tab=all&estate={estate_id}").get_data(
        as_text=True
    )
    other_estate = session.scalar(select(Estate.id).where(Estate.name == "徐泾北城招商悦庭"))
    assert kanghong.tracking_no not in client.get(f"/console/inbox?tab=all&estate={other_estate}").get_data(
        as_text=True
    )


def _viewed_from(session: Session, tracking_no: str) -> str | None:
    return session.scalars(
        select(AuditEntry.ip)
        .where(AuditEntry.target_id == tracking_no, AuditEntry.action == "case.view")
        .order_by(AuditEntry.id.desc())
    ).first()


def test_the_audit_trail_records_the_address_a_trusted_proxy_saw_and_ignores_forged_headers(
    client: FlaskClient, make_app, session: Session, accounts
) -> None:
    case = a_case(session)
    forged = {"X-Forwarded-For": "6.6.6.6"}
    login(client, "t_officer")
    client.get(f"/console/cases/{case.tracking_no}", headers=forged, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert _viewed_from(session, case.tracking_no) == "10.0.0.7"  # no proxy trusted: the header is anyone's

    behind_proxy = login(make_app(PROXY_COUNT=1).test_client(), "t_officer")
    behind_proxy.get(
        f"/console/cases/{case.tracking_no}",
        headers={
            "X-Forwarded-For": "6.6.6.6, 203.0.113.9"
        },  # the client forged the first, our proxy added the last
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert _viewed_from(session, case.tracking_no) == "203.0.113.9"


def _png(color: str) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    out.seek(0)
    return out


def test_field_photos_are_attached_to_a_note_up_to_nine(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    login(client, "t_officer")
    path = f"/console/cases/{case.tracking_no}/note"
    too_many = post(
        client,
        path,
        {"note": "现场照片", "photos": [(_png("red"), f"p{i}.png") for i in range(10)]},
        content_type="multipart/form-data",
    )
    assert too_many.status_code == 400 and "最多 9 张照片" in too_many.get_data(as_text=True)
    session.expire_all()
    assert not any(
        e.action == "note" for e in get_case(session, case.tracking_no).events
    )  # nothing half-done

    two = post(
        client,
        path,
        {"note": "现场照片", "photos": [(_png("red"), "a.png"), (_png("blue"), "b.png")]},
        content_type="multipart/form-data",
    )
    assert two.status_code == 302
    session.expire_all()
    stored = get_case(session, case.tracking_no)
    assert [p.kind for p in stored.photos if p.kind == "handling"] == ["handling", "handling"]
    assert any(e.action == "note" and e.note == "现场照片" for e in stored.events)
    audited = session.execute(
        select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.target_id == case.tracking_no)
    ).all()
    assert ("case.note", {}) in audited and ("case.photos", {"kind": "handling", "count": 2}) in audited


HUGE = str(2**70)  # past any id the database holds; SQLite's driver cannot even bind it


def test_huge_numbers_in_any_console_input_are_refused_or_ignored_never_a_server_error(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    number = case.tracking_no
    bureau = client.application.test_client()
    login(bureau, "t_supervisor")
    for path in (f"/console/inbox?page={2**62}", f"/console/inbox?estate={HUGE}", f"/console/inbox?squad={HUGE}",
                 f"/console/overdue?squad={HUGE}", f"/console/audit?page={2**62}"):  # fmt: skip
        assert bureau.get(path).status_code == 200, path
    assert post(bureau, f"/console/cases/{number}/do/dispatch", {"squad": HUGE}).status_code == 400
    assert post(bureau, f"/console/extensions/{HUGE}/decide", {"decision": "approve"}).status_code == 404
    intake = {
        "source": "squad_inspection",
        "category": "illegal_construction",
        "description": "巡查发现楼顶在搭阳光房",
    }
    assert post(bureau, "/console/intake", {**intake, "estate_id": HUGE}).status_code == 400
    admin = client.application.test_client()
    login(admin, "t_admin")
    user = {"username": "huge", "display_name": "大数", "role": "officer", "password": "x" * 12}
    assert post(admin, "/console/users", {**user, "squad": HUGE}).status_code == 400

    leader = client.application.test_client()
    login(leader, "t_leader")
    assert post(leader, "/console/notices/read", {"ids": HUGE}).status_code == 400
    assert (
        post(
            leader, "/console/inbox/bulk", {"action": "assign", "cases": number, "assignee": HUGE}
        ).status_code
        == 400
    )
    assert post(leader, f"/console/cases/{number}/assign", {"assignee": HUGE}).status_code == 400


def test_a_returned_case_cannot_be_dispatched_to_a_squad_that_does_not_exist(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    login(client, "t_officer")
    post(client, f"/console/cases/{case.tracking_no}/do/return", {"reason_code": "not_our_area"})
    bureau = client.application.test_client()
    login(bureau, "t_supervisor")
    refused = post(bureau, f"/console/cases/{case.tracking_no}/do/dispatch", {"squad": "999999"})
    assert refused.status_code == 400 and "没有这个中队" in refused.get_data(as_text=True)
    session.expire_all()
    assert get_case(session, case.tracking_no).status == CaseStatus.RETURNED


def test_logins_failed_logins_and_logouts_are_on_the_audit_trail(
    client: FlaskClient, session: Session, accounts
) -> None:
    client.post(
        "/console/login",
        data={"username": "t_officer", "password": "wrong-password", "csrf_token": csrf_token(client)},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    login(client, "t_officer")
    post(client, "/console/logout")
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.target_id, AuditEntry.ip)
        .where(AuditEntry.action.like("staff.log%"))
        .order_by(AuditEntry.id)
    ).all()
    officer = str(accounts["officer"].id)
    client.post(  # a password typed as the name is not kept
        "/console/login",
        data={"username": "Secret-Pass-1", "password": "x", "csrf_token": csrf_token(client)},
    )
    assert session.scalar(select(AuditEntry.target_id).order_by(AuditEntry.id.desc())) == "unknown"
    assert [tuple(e) for e in entries][-3:] == [
        ("staff.login_failed", officer, "10.0.0.9"),
        ("staff.login", officer, "127.0.0.1"),
        ("staff.logout", officer, "127.0.0.1"),
    ]


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/console/triage", "/console/triage"),
        # anything else lands on the home of the account's role (the inbox, for the bureau)
        ("/console/%0d%0aX-Injected:%20y", "/console/"),  # a header injection attempt
        ("//evil.example/console/", "/console/"),
        ("/console/\\evil.example", "/console/"),
    ],
)
def test_after_login_only_a_console_page_is_a_destination(
    client: FlaskClient, session: Session, accounts, target: str, lands_on: str
) -> None:
    response = client.post(
        f"/console/login?next={target}",
        data={"username": "t_supervisor", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302 and response.headers["Location"] == lands_on


@pytest.mark.parametrize("username", ["ａｄｍｉｎ", "用户", "a b", "a" * 65, "", "admin\x00"])
def test_usernames_are_plain_ascii_so_none_passes_for_another(session: Session, username: str) -> None:
    from backend.staff.services import create_staff

    with pytest.raises(ValidationFailed) as refused:
        create_staff(session, username=username, display_name="某人", role="supervisor", password="x" * 12)
    assert refused.value.errors[0].field == "username"


def test_a_photo_sent_with_two_reports_shows_to_the_squads_of_both(
    client: FlaskClient, session: Session, accounts
) -> None:
    from backend.cases.models import CasePhoto
    from backend.org.models import Squad
    from backend.uploads.services import store_upload

    upload = store_upload(session, client.application.extensions["storage"], None, _png("green").getvalue())
    first, second = a_case(session), a_case(session, description="同一张照片，另一处楼顶也在搭阳光房")
    for case in (first, second):
        case.photos.append(CasePhoto(upload_id=upload.id, kind="report", position=0))
    second.squad = session.scalar(select(Squad).where(Squad.code == "xiayang"))
    session.commit()
    xiayang = client.application.test_client()
    login(xiayang, "t_other_officer")
    assert xiayang.get(f"/console/photos/{upload.id}").status_code == 200
    login(client, "t_officer")
    assert client.get(f"/console/photos/{upload.id}").status_code == 200
    second.squad = first.squad
    session.commit()
    assert xiayang.get(f"/console/photos/{upload.id}").status_code == 404  # no case of theirs has it now


def test_console_forms_refuse_control_characters(client: FlaskClient, session: Session, accounts) -> None:
    login(client, "t_supervisor")
    intake = {"source": "squad_inspection", "category": "illegal_construction", "description": "\x00" * 12}
    refused = post(client, "/console/intake", {**intake, "address": "某路1号", "town": "徐泾"})
    assert refused.status_code == 400 and "不能包含控制字符" in refused.get_data(as_text=True)


def test_a_resolved_case_is_not_assigned_any_more(client: FlaskClient, session: Session, accounts) -> None:
    from backend.cases.services.life import transition
    from backend.staff.services import staff_actor

    case = a_case(session)
    officer = staff_actor(accounts["officer"])
    for name, data in [
        ("sign", {}),
        ("investigate", {}),
        ("verify", {}),
        ("resolve", {"public_reply": "已拆除"}),
    ]:
        transition(session, case, name, officer, **data)
    session.commit()
    login(client, "t_leader")
    refused = post(client, f"/console/cases/{case.tracking_no}/assign", {"assignee": accounts["officer2"].id})
    assert refused.status_code == 409 and "已办结的工单不能再分派" in refused.get_data(as_text=True)
    session.expire_all()
    assert get_case(session, case.tracking_no).assignee_id is None
