"""Words an officer reads: buttons that say what they do, the audit log in Chinese, and residents' text that
cannot reorder the page around it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.audit.services import ACTION_LABELS, action_label
from backend.cases.services.life import transition
from backend.cases.workflow import TRANSITIONS
from backend.staff.services import staff_actor
from tests.support.console import a_case, login, post

BACKEND = Path(__file__).resolve().parents[2] / "backend"
RLO = "\u202e"


def test_the_case_pages_buttons_are_verbs_and_the_flash_says_it_was_done(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    login(client, "t_officer")
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    sign = re.search(r'data-action="sign">.*?<button type="submit">([^<]+)</button>', page, re.S)
    assert sign and sign.group(1) == "签收"
    assert "<summary>签收</summary>" in page and "<summary>退单</summary>" in page
    assert "已签收</button>" not in page
    done = post(client, f"/console/cases/{case.tracking_no}/do/sign", follow_redirects=True)
    assert "已完成：签收" in done.get_data(as_text=True)
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert "<summary>开始核查</summary>" in page and "<summary>转办</summary>" in page


def test_every_transition_has_a_verb_that_is_not_a_state() -> None:
    for name, t in TRANSITIONS.items():
        assert t.verb and not t.verb.startswith("已") and not t.verb.endswith("中"), name


def _recorded_actions() -> set[str]:
    """Every audit action the backend records: the literal passed to record_audit, "case." + the kind passed
    to supervision's _audit and _squad_step, and "case." + each transition (recorded by transition())."""
    found = {f"case.{name}" for name in TRANSITIONS}
    for path in BACKEND.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            position = {"record_audit": 2, "_audit": 3, "_squad_step": 3}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value if name == "record_audit" else f"case.{arg.value}")
    return found


def test_every_audited_action_has_a_chinese_name() -> None:
    recorded = _recorded_actions()
    assert {
        "staff.login",
        "staff.login_failed",
        "case.view",
        "case.reveal_phone",
        "case.due_soon",
    } <= recorded
    unnamed = sorted(action for action in recorded if action not in ACTION_LABELS)
    assert not unnamed, f"name these in backend/audit/services.py ACTION_LABELS: {unnamed}"
    assert action_label("case.sign") == "签收" and action_label("case.view") == "查看工单"
    assert action_label("case.reveal_phone") == "查看反映人电话" and action_label("staff.login") == "登录"
    assert (
        action_label("staff.login_failed") == "登录失败" and action_label("case.due_soon") == "即将到期提醒"
    )
    assert action_label("case.something_new") == "case.something_new"


def test_the_audit_page_names_actions_in_chinese_and_filters_by_them(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    transition(session, case, "sign", staff_actor(accounts["officer"]))
    session.add(
        AuditEntry(actor_kind="system", action="case.from_the_future", target_type="case", target_id="x")
    )
    session.commit()
    login(client, "t_supervisor")
    page = client.get(f"/console/audit?target={case.tracking_no}").get_data(as_text=True)
    assert '<td data-action="case.sign">签收</td>' in page
    assert re.search(r'<option value="case.reveal_phone"\s*>查看反映人电话</option>', page)
    assert re.search(r'<option value="staff.login_failed"\s*>登录失败</option>', page)
    signed = client.get("/console/audit?action=case.sign").get_data(as_text=True)
    assert '<option value="case.sign" selected>签收</option>' in signed
    assert 'data-action="case.view"' not in signed
    unknown = client.get("/console/audit?action=case.from_the_future").get_data(as_text=True)
    assert '<td data-action="case.from_the_future">case.from_the_future</td>' in unknown
    assert '<option value="case.from_the_future" selected>' in unknown


def test_a_right_to_left_override_stays_inside_its_building_number(
    client: FlaskClient, session: Session, accounts
) -> None:
    case = a_case(session)
    case.building, case.unit, case.address = f"8{RLO}号楼", f"2{RLO}", f"{RLO}东门"
    case.description = f"楼顶搭建阳光房{RLO}，已经搭了一半"
    session.commit()  # stored before input was cleaned: the page must hold it in
    login(client, "t_officer")
    inbox = client.get("/console/inbox?tab=all").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-case="{case.tracking_no}".*?</tr>', inbox, re.S).group(0)
    assert f"<bdi>8{RLO}号楼</bdi>" in row
    assert all(_isolated(row, i) for i, c in enumerate(row) if c == RLO)
    page = client.get(f"/console/cases/{case.tracking_no}").get_data(as_text=True)
    assert f"<bdi>8{RLO}号楼</bdi>" in page and f"<bdi>2{RLO}</bdi>" in page
    assert all(_isolated(page, i) for i, c in enumerate(page) if c == RLO)


def _isolated(html: str, at: int) -> bool:
    """Whether the character at `at` is inside a <bdi> element."""
    return html.rfind("<bdi>", 0, at) > html.rfind("</bdi>", 0, at)
