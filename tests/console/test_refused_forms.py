"""A refused console form shows its page again, with what was typed and the reason beside the field: nothing
written is lost, and nothing of the refused request is kept."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseStatus
from backend.cases.services.life import transition
from backend.cases.services.reads import get_case
from backend.cases.workflow import TRANSITIONS, Party
from backend.console.transition_forms import STEP_FORMS
from backend.staff.services import staff_actor
from tests.support.console import a_case, case_in, login, post

NOTE = "现场已核实：楼顶彩钢板房约 30 平方米，当事人在场，已告知其限期自行拆除，并拍照留存。"
REPLY = "经现场核查，反映的违法搭建已责令当事人自行拆除，我队将于三日后复查。" * 20  # a long reply


def form_html(html: str, action: str) -> str:
    """The <form> of the page that posts to `action`."""
    match = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert match, f"no form posting to {action}"
    return match.group(1)


def reason_beside(html: str, field: str, message: str) -> bool:
    """Whether `message` is said right after the input named `field` (inside its label)."""
    start = html.index(f'name="{field}"')
    end = html.index("</label>", start)
    return message in html[start:end]


# Each step of the case page: the state it is made from, who makes it, and the words typed in its own fields.
EVERY_STEP = {
    "dispatch": ("returned", "t_supervisor", {}),
    "sign": ("dispatched", "t_officer", {}),
    "investigate": ("signed", "t_officer", {}),
    "verify": ("investigating", "t_officer", {}),
    "mark_unfounded": ("investigating", "t_officer", {"reason": "现场为合法加层，有规划许可"}),
    "handle": ("verified", "t_officer", {"action": "penalty", "decision_no": "青城管罚〔2026〕9号"}),
    "resolve": ("verified", "t_officer", {"public_reply": "已责令当事人自行拆除"}),
    "return": ("dispatched", "t_officer", {"reason_code": "incomplete", "reason": "地址只写到小区"}),
    "transfer": ("signed", "t_officer", {"department": "police"}),
    "record_transfer_reply": ("transferred", "t_officer", {"public_reply": "公安已到场处理"}),
    "merge": ("dispatched", "t_officer", {"parent": "QP20260101-0001"}),
    "close": ("resolved", "t_supervisor", {}),
}


def test_every_step_staff_make_has_a_form_and_a_row_here() -> None:
    staff = {Party.SQUAD, Party.BUREAU}
    steps = {name for name, t in TRANSITIONS.items() if t.parties & staff} - {"submit"}  # intake files a case
    assert set(STEP_FORMS) == steps == set(EVERY_STEP)


@pytest.mark.parametrize("step", EVERY_STEP)
def test_every_refused_step_shows_its_form_again_with_what_was_typed(
    client: FlaskClient, session: Session, accounts, step: str
) -> None:
    state, username, typed = EVERY_STEP[step]
    case = case_in(session, accounts, state)
    action = f"/console/cases/{case.tracking_no}/do/{step}"
    login(client, username)
    refused = post(client, action, {**typed, "note": "长" * 2001})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.search(
        rf'<details open>\s*<summary>{TRANSITIONS[step].verb}</summary>\s*<form[^>]*action="{action}"', html
    )
    form = form_html(html, action)
    assert "长" * 2001 in form and reason_beside(form, "note", "最多 2000 个字符")
    for text in typed.values():
        assert text in form, (step, text)
    session.expire_all()
    assert get_case(session, case.tracking_no).status == state


def test_a_resolve_without_a_reply_keeps_the_typed_note(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = case_in(session, accounts, "verified")
    action = f"/console/cases/{case.tracking_no}/do/resolve"
    login(client, "t_officer")
    refused = post(client, action, {"public_reply": "", "note": NOTE})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    resolve = form_html(html, action)
    assert f'name="note" value="{escape(NOTE)}"' in resolve
    assert reason_beside(resolve, "public_reply", "请填写给反映人的公开答复")
    assert re.search(rf'<details open>\s*<summary>办结</summary>\s*<form[^>]*action="{action}"', html)
    assert "未能提交" in html  # a word at the top, where the officer looks first
    # the other forms are as they were: the note form empty, the category the case's own
    note_form = form_html(html, f"/console/cases/{case.tracking_no}/note")
    assert '<textarea name="note" required aria-label="内部备注"></textarea>' in note_form
    assert NOTE not in note_form
    session.expire_all()
    assert get_case(session, case.tracking_no).status == CaseStatus.VERIFIED


def test_a_long_reply_survives_a_refused_note(client: FlaskClient, session: Session, accounts) -> None:
    case = case_in(session, accounts, "verified")
    action = f"/console/cases/{case.tracking_no}/do/resolve"
    login(client, "t_officer")
    refused = post(client, action, {"public_reply": REPLY, "note": "长" * 2001})
    resolve = form_html(refused.get_data(as_text=True), action)
    assert refused.status_code == 400
    assert f">{escape(REPLY)}</textarea>" in resolve
    assert reason_beside(resolve, "note", "最多 2000 个字符")


def test_a_penalty_with_an_amount_that_is_no_number_keeps_the_decision_number(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = case_in(session, accounts, "verified")
    action = f"/console/cases/{case.tracking_no}/do/handle"
    login(client, "t_officer")
    typed = {
        "action": "penalty",
        "amount": "abc",
        "decision_no": "青城管罚〔2026〕7号",
        "case_no": "",
        "deadline": "",
    }
    refused = post(client, action, {**typed, "note": "当事人拒不整改"})
    handle = form_html(refused.get_data(as_text=True), action)
    assert refused.status_code == 400
    assert 'name="decision_no" value="青城管罚〔2026〕7号"' in handle
    assert 'name="amount" inputmode="decimal" value="abc"' in handle
    assert '<option value="penalty" selected>' in handle
    assert reason_beside(handle, "amount", "处罚需填写罚款金额")
    assert "罚款金额（元）" in handle


def test_a_refused_photo_undoes_the_step_and_keeps_the_reply(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = case_in(session, accounts, "verified")
    action = f"/console/cases/{case.tracking_no}/do/resolve"
    login(client, "t_officer")
    refused = post(
        client,
        action,
        {"public_reply": REPLY, "note": "", "photos": [(io.BytesIO(b"not a photo"), "scan.pdf")]},
        content_type="multipart/form-data",
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    resolve = form_html(html, action)
    assert f">{escape(REPLY)}</textarea>" in resolve
    assert reason_beside(resolve, "photos", "第 1 张照片：")
    assert "照片未上传，请重新选择" in resolve
    session.expire_all()
    stored = get_case(session, case.tracking_no)
    assert stored.status == CaseStatus.VERIFIED and not stored.public_reply  # the resolve was undone
    assert not any(e.action == "resolve" for e in stored.events)


def test_a_case_resolved_meanwhile_keeps_the_reply_that_could_not_be_sent(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = case_in(session, accounts, "verified")
    login(client, "t_officer")
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert 'data-action="resolve"' in page
    transition(session, case, "resolve", staff_actor(accounts["officer2"]), public_reply="王队员已答复")
    session.commit()
    refused = post(client, f"/console/cases/{case.tracking_no}/do/resolve", {"public_reply": REPLY})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "不能进行此操作" in html  # why, at the top
    assert f"<textarea readonly>{escape(REPLY)}</textarea>" in html  # what was typed, to copy


def test_a_refused_note_keeps_what_was_typed(client: FlaskClient, session: Session, accounts) -> None:
    case = a_case(session)
    action = f"/console/cases/{case.tracking_no}/note"
    login(client, "t_officer")
    refused = post(client, action, {"note": "超" * 2001})
    note_form = form_html(refused.get_data(as_text=True), action)
    assert refused.status_code == 400
    assert "超" * 2001 in note_form and "最多 2000 个字符" in note_form


def test_intake_with_a_short_description_keeps_the_typed_address(
    client: FlaskClient, session: Session, accounts
) -> None:
    before = session.scalar(select(func.count()).select_from(Case))
    login(client, "t_officer")
    typed = {
        "source": "department_transfer",
        "source_detail": "规资",
        "category": "green_space_damage",
        "description": "绿地被",
        "address": "徐泾镇某小区东侧绿地",
        "building": "12",
        "in_progress": "on",
    }
    refused = post(client, "/console/intake", typed)
    form = form_html(refused.get_data(as_text=True), "/console/intake")
    assert refused.status_code == 400
    assert 'name="address" value="徐泾镇某小区东侧绿地"' in form
    assert (
        'name="building" value="12"' in form
        and 'name="source_detail" placeholder="如 住建、规资" value="规资"' in form
    )
    assert '<option value="department_transfer" selected>' in form
    assert '<option value="green_space_damage" selected>' in form
    assert 'name="in_progress" checked' in form
    assert ">绿地被</textarea>" in form
    assert reason_beside(form, "description", "至少 10 个字符")
    assert session.scalar(select(func.count()).select_from(Case)) == before


def test_the_users_form_keeps_what_was_typed_but_never_a_password(
    client: FlaskClient, session: Session, accounts
) -> None:
    login(client, "t_admin")
    typed = {
        "username": "new_officer",
        "display_name": "新队员",
        "role": "officer",
        "password": "short",
        "squad": str(accounts["officer"].squad_id),
        "company": "",
    }
    refused = post(client, "/console/users", typed)
    form = form_html(refused.get_data(as_text=True), "/console/users")
    assert refused.status_code == 400
    assert 'name="username" required value="new_officer"' in form and 'value="新队员"' in form
    assert f'<option value="{accounts["officer"].squad_id}" selected>' in form
    assert reason_beside(form, "password", "密码至少 10 位") and 'value="short"' not in form
    taken = post(client, "/console/users", {**typed, "username": "t_officer", "password": "long-enough-pass"})
    form = form_html(taken.get_data(as_text=True), "/console/users")
    assert taken.status_code == 409 and reason_beside(form, "username", "用户名已被使用")
