"""Helpers for the console's tests: logging in through the real form (CSRF included), posting a form, and a
case brought to a given state."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.cases.models import Case
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.services.life import transition
from backend.org.models import Estate
from backend.staff.services import staff_actor
from tests.support.accounts import make_resident

PASSWORD = "correct-horse-battery"

# The officer's steps (with what each needs) that bring a fresh case, dispatched to 徐泾, to each state.
STEPS: dict[str, list[str | tuple[str, dict[str, str]]]] = {
    "dispatched": [],
    "signed": ["sign"],
    "investigating": ["sign", "investigate"],
    "verified": ["sign", "investigate", "verify"],
    "handling": ["sign", "investigate", "verify", ("handle", {"action": "demolition"})],
    "resolved": ["sign", "investigate", "verify", ("resolve", {"public_reply": "已处理"})],
    "transferred": ["sign", ("transfer", {"department": "police"})],
    "returned": [("return", {"reason": "信息不全"})],
}


def csrf_token(client: FlaskClient, path: str = "/console/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    response = client.post(
        "/console/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/console/intake")}, **kw)


def a_case(session: Session, estate: str = "康虹花园", **kw: object) -> Case:
    """A resident's report about `estate`, committed (so the console's requests see it)."""
    user, _ = make_resident(session, f"r{estate}")
    fields = {
        "description": "楼顶有人在搭建阳光房，已经搭了一半",
        "category": "illegal_construction",
        "estate_id": session.scalar(select(Estate.id).where(Estate.name == estate)),
        "contact_phone": "13812345678",
        **kw,
    }
    case, _ = submit_report(session, user, ReportInput(**fields))
    session.commit()
    return case


def case_in(session: Session, accounts: Any, state: str) -> Case:
    """A fresh case brought to `state` by the officer of the `accounts` fixture, committed."""
    case = a_case(session)
    officer = staff_actor(accounts["officer"])
    for step in STEPS[state]:
        name, data = step if isinstance(step, tuple) else (step, {})
        transition(session, case, name, officer, **data)
    session.commit()
    assert case.status == state
    return case
