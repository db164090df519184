"""Telling residents, written through Core: one message each, a grant spent for each who granted one, the outbox
rows written in one statement (whose ids name the jobs, in order), nothing read back, and the rows returned held
by the session as the database has them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from backend.messages.models import Message, Notification
from backend.messages.services import (
    CASE_STATUS,
    SEND_NOTIFICATION_JOB,
    add_subscription_credit,
    subscription_credits,
    tell_residents,
)
from backend.queue import PendingJob
from tests.support.accounts import make_resident
from tests.support.cases import NOW
from tests.support.jobs import jobs_recorded
from tests.support.statements import Sent

FIELDS = {
    "thing1": "违法搭建",
    "character_string2": "QP1",
    "phrase3": "已派单",
    "thing4": "备注",
    "time5": "x",
}


@pytest.fixture
def telling(connection: Connection) -> Iterator[tuple[Session, list[PendingJob]]]:
    with jobs_recorded(connection, expire_on_commit=False) as recorded:
        yield recorded


def test_each_is_told_once_and_those_who_granted_one_get_an_outbox_row(
    telling: tuple[Session, list[PendingJob]], sent: Sent
) -> None:
    session, jobs = telling
    users = [make_resident(session, f"told_{i}")[0] for i in range(3)]
    for user in (users[0], users[2]):
        add_subscription_credit(session, user.id, CASE_STATUS)
    session.flush()
    ids = [u.id for u in users]
    sent.start()
    outbox = tell_residents(
        session,
        [*ids, ids[0]],  # a follower named twice is told once
        case_id=None,
        title="工单 QP1 已派单",
        body="已派至徐泾中队处理",
        subscribe=FIELDS,
        page="pages/report/detail?tracking_no=QP1",
        now=NOW,
    )
    statements = sent.stop()
    assert not [s for s in statements if s.startswith("SELECT")], statements
    assert sum(s.startswith("INSERT INTO message") for s in statements) == 1, statements
    assert len({s for s in statements if s.startswith("INSERT INTO notification")}) == 1, statements

    assert [n.user_id for n in outbox] == [ids[0], ids[2]] and all(n.id for n in outbox)
    assert [n.id for n in outbox] == sorted(n.id for n in outbox)
    assert all(n in session and not session.is_modified(n) for n in outbox)  # held as loaded
    assert [subscription_credits(session, uid, CASE_STATUS) for uid in ids] == [0, 0, 0]
    stored = session.scalars(
        select(Notification)
        .where(Notification.user_id.in_(ids))
        .order_by(Notification.id)
        .execution_options(populate_existing=True)
    ).all()
    assert stored == outbox
    assert [(n.status, n.attempts, n.last_error, n.page, n.kind) for n in stored] == [
        ("pending", 0, "", "pages/report/detail?tracking_no=QP1", CASE_STATUS)
    ] * 2
    assert stored[0].payload == FIELDS and stored[0].created_at == NOW
    told = session.execute(
        select(Message.user_id, Message.title, Message.body, Message.created_at, Message.read_at)
        .where(Message.user_id.in_(ids))
        .order_by(Message.id)
    ).all()
    assert [tuple(m) for m in told] == [
        (uid, "工单 QP1 已派单", "已派至徐泾中队处理", NOW, None) for uid in ids
    ]

    assert jobs == []
    session.commit()
    assert [(j.func, j.args, j.job_id) for j in jobs] == [
        (SEND_NOTIFICATION_JOB, (n.id,), f"notification-{n.id}") for n in outbox
    ]


def test_without_a_subscribe_message_nobody_spends_a_grant(telling: tuple[Session, list[PendingJob]]) -> None:
    session, jobs = telling
    user, _ = make_resident(session, "told_plain")
    add_subscription_credit(session, user.id, CASE_STATUS)
    assert tell_residents(session, [user.id], case_id=None, title="t", body="b", now=NOW) == []
    assert subscription_credits(session, user.id, CASE_STATUS) == 1
    assert tell_residents(session, [], case_id=None, title="t", body="b", subscribe=FIELDS, now=NOW) == []
    session.commit()
    assert jobs == []
