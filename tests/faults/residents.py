"""Residents of the mini-program talking to a running service over real HTTP, and what the database holds of
their reports afterwards."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CaseEvent
from backend.messages.models import Message, Notification
from tests.support.processes import CASE_STATUS_TEMPLATE
from tests.support.wechat_standin import WeChatStandIn

API = "/api/mp/v1"
DESCRIPTION = "楼顶有人在搭建阳光房，已经搭了一半"


@dataclass
class Resident:
    base_url: str
    name: str
    openid: str
    token: str
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, body: dict[str, Any], *, timeout: float = 30) -> requests.Response:
        return self.http.post(f"{self.base_url}{API}{path}", json=body, headers=self.headers, timeout=timeout)

    def grant(self, credits: int) -> None:
        """Allow `credits` case-status subscribe messages (one wx.requestSubscribeMessage each)."""
        for _ in range(credits):
            answer = self.post("/subscriptions", {"template_id": CASE_STATUS_TEMPLATE})
            assert answer.status_code == 201, answer.text

    def report(self, estate_id: int, client_request_id: str, *, timeout: float = 30) -> requests.Response:
        body = {"description": DESCRIPTION, "estate_id": estate_id, "client_request_id": client_request_id}
        return self.post("/reports", body, timeout=timeout)


def sign_in(base_url: str, wechat: WeChatStandIn, name: str) -> Resident:
    """Log in through wx.login's code, which the service checks with the WeChat stand-in."""
    code = f"code-{name}"
    answer = requests.post(f"{base_url}{API}/auth/login", json={"code": code}, timeout=30)
    assert answer.status_code == 200, answer.text
    return Resident(base_url, name, wechat.openid_for(code), answer.json()["token"])


def deliveries(wechat: WeChatStandIn) -> Counter[str]:
    """How many subscribe messages the stand-in took for each tracking number."""
    return Counter(message["data"]["character_string2"]["value"] for message in wechat.subscribe_messages)


@dataclass(frozen=True)
class Filed:
    """A resident's cases as committed, with what came with each."""

    cases: dict[str, Case]  # by client_request_id
    events: dict[int, list[str]]  # case id -> the actions on its timeline, in order
    messages: Counter[int | None]  # case id -> in-app messages
    notifications: list[Notification]


def filed_by(engine: Engine, resident: Resident) -> Filed:
    with Session(engine, expire_on_commit=False) as session:
        user_id = session.scalar(select(User.id).where(User.openid == resident.openid))
        cases = list(session.scalars(select(Case).where(Case.reporter_id == user_id).order_by(Case.id)))
        ids = [case.id for case in cases]
        events: dict[int, list[str]] = {case_id: [] for case_id in ids}
        for case_id, action in session.execute(
            select(CaseEvent.case_id, CaseEvent.action)
            .where(CaseEvent.case_id.in_(ids))
            .order_by(CaseEvent.id)
        ):
            events[case_id].append(action)
        messages = Counter(
            session.scalars(
                select(Message.case_id).where(Message.user_id == user_id, Message.case_id.in_(ids))
            )
        )
        notifications = list(
            session.scalars(
                select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            )
        )
    return Filed({str(c.client_request_id): c for c in cases}, events, messages, notifications)
