"""Building cases for the case tests: an instant, the seeded estates and squads, an officer, a filed report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.workflow import Actor, Role
from backend.org.models import Estate, Squad
from backend.workcalendar import SHANGHAI

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Thursday


def estate(session: Session, name: str) -> Estate:
    return session.scalar(select(Estate).where(Estate.name == name))


def squad(session: Session, code: str) -> Squad:
    return session.scalar(select(Squad).where(Squad.code == code))


def officer(session: Session, code: str, role: Role = Role.OFFICER) -> Actor:
    return Actor(role, 9000, f"{code}队员", squad_id=squad(session, code).id)


def report(session: Session, user, **kw) -> Case:
    now = kw.pop("now", NOW)
    # said, not read from the text: the reading has tests of its own
    fields = {
        "description": "楼顶有人在搭建阳光房，已经搭了一半",
        "client_request_id": None,
        "in_progress": False,
        **kw,
    }
    case, created = submit_report(session, user, ReportInput(**fields), now=now)
    assert created
    return case
