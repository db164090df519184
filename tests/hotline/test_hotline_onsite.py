"""A 12345 work order about construction in progress gets the 2-hour on-site limit, whether the order says so
or only its content does."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.cases.models import CaseStatus, Priority
from backend.cases.services.deadlines import onsite_pending
from backend.hotline.services import create_client, intake_order
from tests.support.hotline import API, NOW, cases_of, order

HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("fields", "hours"),
    [
        ({"in_progress": True}, 2),
        ({"content": "康虹花园8号楼楼顶正在加盖房子，工人现在还在施工"}, 2),
        ({"content": "康虹花园8号楼楼顶的阳光房是去年搭的，已经建好很久了"}, 24),
        ({"content": "康虹花园8号楼楼顶正在加盖房子，工人现在还在施工", "in_progress": False}, 24),
    ],
    ids=["said", "read from the content", "finished long ago", "the order's word wins"],
)
def test_the_on_site_limit_of_a_hotline_order(session: Session, fields: dict, hours: int) -> None:
    case, created = intake_order(
        session, order(town="徐泾镇", estate="康虹花园", **fields), client_name="区热线平台", now=NOW
    )
    assert created and case.status == CaseStatus.DISPATCHED
    assert case.onsite_due_at == NOW + hours * HOUR
    assert onsite_pending(case)
    assert (case.priority == Priority.URGENT) is (hours == 2)


def test_an_in_progress_order_over_http(client: FlaskClient, session: Session) -> None:
    _client, key = create_client(session, "热线测试")
    session.commit()
    sent = client.post(
        API + "/orders",
        json={
            "order_no": "HL-ONSITE-0001",
            "content": "小区楼顶有人正在连夜搭建彩钢板房",
            "town": "徐泾镇",
            "estate": "康虹花园",
        },
        headers={"X-Api-Key": key},
    )
    assert sent.status_code == 201, sent.get_json()
    (case,) = cases_of(session, "HL-ONSITE-0001")
    assert case.in_progress is True
    assert case.onsite_due_at - case.created_at == 2 * HOUR
    assert case.events[0].data == {"in_progress": True, "in_progress_from": "text"}
