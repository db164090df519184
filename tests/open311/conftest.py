"""Cases for the open-data tests: one of each kind the endpoints publish or leave out, with personal data
planted everywhere a case can hold it, so that a test can prove none of it comes out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CaseSource
from backend.cases.services.life import transition, withdraw_case
from backend.clock import MovableClock
from backend.org.models import Estate
from tests.support.cases import NOW, officer, report

API = "/open311/v2"

# What no response may ever carry (each is planted in the cases below).
CALLER = "王小明"  # a hotline caller's name
NICKNAME = "居民李四丫"  # a resident's WeChat nickname
PHONE = "13912345678"  # the contact phone of every planted case
PHONE_IN_TEXT = "13987654321"  # a phone number inside a description
BUILDING, UNIT, ROOM = "47", "5", "6817"
LAT, LNG = 31.1234567, 121.2345678
ADDRESS = "沪青平公路1358弄47号"  # the flat's street address: the endpoints give the town and estate only
DESCRIPTION = f"47号楼5单元6817室楼顶有人在搭建紫藤色的阳光房，联系我 {PHONE_IN_TEXT}"
REPLY = f"{CALLER}您好，47号楼6817室门前被占的绿地已恢复原状，如有疑问请拨 {PHONE} 或 021-59721234。"
SECRETS = (
    CALLER,
    NICKNAME,
    PHONE,
    PHONE_IN_TEXT,
    "59721234",
    "47号楼",
    ROOM,
    "31.123",
    "121.234",
    "紫藤色",
    "1358弄",
)


@dataclass
class Planted:
    resident: User
    open_case: Case  # illegal_construction, dispatched to 徐泾中队, 10 days before NOW
    resolved: Case  # green_space_damage, resolved with a public reply, 20 days before NOW
    old: Case  # illegal_construction, 100 days before NOW: outside the default 90 days
    withdrawn: Case
    merged: Case
    uncategorised: Case
    company: Case  # property_negligence: about a property company

    def published(self) -> set[str]:
        return {self.open_case.tracking_no, self.resolved.tracking_no, self.old.tracking_no}

    def unpublished(self) -> set[str]:
        cases = (self.withdrawn, self.merged, self.uncategorised, self.company)
        return {case.tracking_no for case in cases}


def plant_cases(session: Session, now: dt.datetime, tag: str = "") -> Planted:
    """Every kind of case, reported before `now`, with personal data in every field that can hold it."""
    resident = User(openid=f"open311-{tag or 'test'}-resident", nickname=NICKNAME)
    session.add(resident)
    session.flush()
    estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
    xujing = officer(session, "xujing")

    def filed(days_ago: int, category: str | None, **kw: object) -> Case:
        fields: dict[str, object] = {
            "description": DESCRIPTION,
            "estate_id": estate.id,
            "building": BUILDING,
            "unit": UNIT,
            "room": ROOM,
            "address": ADDRESS,
            "lat": LAT,
            "lng": LNG,
            "contact_phone": PHONE,
            "category": category,
            "now": now - dt.timedelta(days=days_ago),
            **kw,
        }
        return report(session, resident, **fields)

    open_case = filed(
        10,
        "illegal_construction",
        source=CaseSource.HOTLINE,
        external_ref=f"12345-{tag}-open",
        reporter_name=CALLER,
    )
    resolved = filed(20, "green_space_damage", source=CaseSource.HOTLINE, reporter_name=CALLER)
    at = now - dt.timedelta(days=19)
    for step, data in (
        ("sign", {}),
        ("investigate", {}),
        ("verify", {}),
        ("resolve", {"public_reply": REPLY}),
    ):
        transition(session, resolved, step, xujing, now=at, **data)
        at += dt.timedelta(hours=1)
    old = filed(100, "illegal_construction")
    withdrawn = filed(5, "garbage_sorting")
    withdraw_case(session, withdrawn, resident, "不想反映了", now=now - dt.timedelta(days=4))
    merged = filed(4, "illegal_construction")
    transition(session, merged, "merge", xujing, parent=open_case, now=now - dt.timedelta(days=3))
    uncategorised = filed(3, None)
    uncategorised.category = None  # nobody has said what it is about yet
    company = filed(2, "property_negligence")
    session.flush()
    return Planted(resident, open_case, resolved, old, withdrawn, merged, uncategorised, company)


@pytest.fixture
def planted(session: Session) -> Planted:
    cases = plant_cases(session, NOW)
    session.commit()
    return cases


@pytest.fixture
def at_now(app: Flask) -> Iterator[MovableClock]:
    """The app's clock stopped at NOW (the endpoints' default 90 days count back from it)."""
    clock = MovableClock(NOW)
    app.extensions["clock"], saved = clock, app.extensions["clock"]
    try:
        yield clock
    finally:
        app.extensions["clock"] = saved
