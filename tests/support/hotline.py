"""12345 work orders for the hotline tests: a valid order (as a model and as a body) and the cases it made."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from backend.hotline.services import (
    HotlineOrder,
)

API = "/api/hotline/v1"


NOW = dt.datetime(2024, 5, 6, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai


CALLER_PHONE = "13912345678"


CALLER_NAME = "王阿姨"


def order(**overrides: object) -> HotlineOrder:
    return HotlineOrder.model_validate(
        {"order_no": "GD-20240506-0001", "content": "楼顶有人搭建了阳光房，影响邻居采光", **overrides}
    )


def cases_of(session: Session, order_no: str) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(Case.source == CaseSource.HOTLINE, Case.external_ref == order_no)
            .execution_options(populate_existing=True)
        )
    )


def hotline_cases(session: Session) -> int:
    return session.scalar(select(func.count(Case.id)).where(Case.source == CaseSource.HOTLINE)) or 0


def valid_order(**overrides: object) -> dict:
    return {
        "order_no": "H-20240506-0001",
        "content": "楼顶有人在搭建阳光房，已经搭了一半",
        "address": "沪青平公路1358弄12号",
        "town": "徐泾镇",
        "estate": "康虹花园",
        "category": "illegal_construction",
        "caller_name": CALLER_NAME,
        "caller_phone": CALLER_PHONE,
        "received_at": "2024-05-06T09:30:00+08:00",
        "in_progress": False,
        **overrides,
    }
