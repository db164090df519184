"""Renovation registrations for the tests: the project's checklist, a day to register on, and a registration
of one flat with the items a test names."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from backend.cases.workflow import Actor
from backend.property.models import Renovation
from backend.property.renovations import Checklist, RenovationInput, load_checklist, register_renovation
from tests.support.bot import CONTENT
from tests.support.property import estate_named

NOW = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai, a Monday
TODAY = dt.date(2026, 3, 2)


def checklist() -> Checklist:
    return load_checklist(CONTENT)


def codes_of(verdict: str) -> list[str]:
    return [item.code for item in checklist().items if item.verdict == verdict]


def renovation_input(session: Session, estate: str = "康虹花园", **overrides: Any) -> RenovationInput:
    fields: dict[str, Any] = {
        "estate_id": estate_named(session, estate).id,
        "building": "12",
        "unit": "2",
        "room": "1502",
        "owner_name": "王秀英",
        "owner_phone": "13812345678",
        "contractor": "青浦安居装饰工程队",
        "contractor_phone": "13987654321",
        "planned_start": TODAY + dt.timedelta(days=7),
        "planned_end": TODAY + dt.timedelta(days=67),
        "items": ["wall_floor_ceiling"],
        **overrides,
    }
    return RenovationInput(**fields)


def register(
    session: Session, actor: Actor, *, now: dt.datetime = NOW, estate: str = "康虹花园", **overrides: Any
) -> Renovation:
    renovation, _created = register_renovation(
        session, actor, renovation_input(session, estate, **overrides), checklist(), now=now
    )
    return renovation
