"""Subscribe messages: written to the outbox with the change, sent once by a job, never lost, never twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.services.life import transition
from backend.cases.workflow import Actor, Role
from backend.messages.jobs import send_notification
from backend.messages.models import Message, Notification
from backend.messages.services import add_subscription_credit, pending_notifications
from backend.org.models import Estate
from backend.queue import SESSION_KEY, JobQueue, PendingJob
from backend.wechat import WeChatError
from tests.support.accounts import make_resident
from tests.support.jobs import jobs_recorded


@pytest.fixture
def outbox(wechat_app, connection: Connection):
    """A session whose after-commit jobs are recorded instead of sent, so the test runs them itself."""
    with jobs_recorded(connection) as recorded_jobs:
        yield recorded_jobs


def filed_case(session: Session, user, description: str = "楼顶有人在搭建阳光房，已经搭了一半"):
    home = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    case, _ = submit_report(
        session, user, ReportInput(description=description, category="illegal_construction", estate_id=home)
    )
    return case


def officer(case) -> Actor:
    return Actor(Role.OFFICER, 1, "队员", squad_id=case.squad_id)


def run(app, jobs: list[PendingJob]) -> list[str]:
    with app.app_context():
        return [job.run() for job in jobs]


def test_a_granted_change_is_sent_once_even_when_the_job_runs_twice(
    wechat_app, wechat_standin, outbox
) -> None:
    session, jobs = outbox
    user, _ = make_resident(session, "subscriber")
    add_subscription_credit(session, user.id, "case_status")
    case = filed_case(session, user)  # the dispatch spends the one grant
    session.commit()
    notifications = session.scalars(select(Notification).where(Notification.user_id == user.id)).all()
    assert len(notifications) == 1 and notifications[0].status == "pending"
    assert [j.job_id for j in jobs] == [f"notification-{notifications[0].id}"]
    assert run(wechat_app, jobs + jobs) == ["sent", "already handled"]
    assert len(wechat_standin.subscribe_messages) == 1
    message = wechat_standin.subscribe_messages[0]
    assert message["template_id"] == "tmpl-case-status"
    assert message["touser"] == user.openid
    assert message["data"]["character_string2"]["value"] == case.tracking_no
    assert message["data"]["phrase3"]["value"] == "已派单"
    session.refresh(notifications[0])
    assert notifications[0].status == "sent" and notifications[0].sent_at is not None

    transition(session, case, "sign", officer(case))  # no grant left: in-app message only
    session.commit()
    assert (
        session.scalar(select(Message.body).where(Message.user_id == user.id).order_by(Message.id.desc()))
        == "已签收"
    )
    assert len(session.scalars(select(Notification).where(Notification.user_id == user.id)).all()) == 1


def test_values_are_cut_to_wechat_limits(wechat_app, wechat_standin, outbox) -> None:
    session, jobs = outbox
    user, _ = make_resident(session, "longreply")
    case = filed_case(session, user)
    for name in ("sign", "investigate", "verify"):
        transition(session, case, name, officer(case))
    add_subscription_credit(session, user.id, "case_status")
    transition(
        session,
        case,
        "resolve",
        officer(case),
        public_reply="经现场核查，违法搭建的阳光房已由当事人自行拆除完毕，现场已恢复原状。",
    )
    session.commit()
    assert run(wechat_app, jobs) == ["sent"]
    remark = wechat_standin.subscribe_messages[0]["data"]["thing4"]["value"]
    assert len(remark) <= 20 and remark.endswith("…")


def test_a_busy_wechat_is_retried_and_sent_once(wechat_app, wechat_standin, outbox) -> None:
    session, jobs = outbox
    user, _ = make_resident(session, "retry")
    add_subscription_credit(session, user.id, "case_status")
    filed_case(session, user)
    session.commit()
    wechat_standin.fail_next("cgi-bin/message/subscribe/send", -1)
    with wechat_app.app_context(), pytest.raises(WeChatError):
        send_notification(*jobs[0].args)
    row = session.scalar(select(Notification).where(Notification.user_id == user.id))
    session.refresh(row)
    assert (row.status, row.attempts) == ("pending", 1)
    assert run(wechat_app, jobs) == ["sent"]
    assert run(wechat_app, jobs) == ["already handled"]
    assert len(wechat_standin.subscribe_messages) == 1


def test_a_refusal_is_final(wechat_app, wechat_standin, outbox) -> None:
    session, jobs = outbox
    user, _ = make_resident(session, "refuser")
    add_subscription_credit(session, user.id, "case_status")
    filed_case(session, user)
    session.commit()
    wechat_standin.fail_next("cgi-bin/message/subscribe/send", 43101)
    assert run(wechat_app, jobs) == ["refused"]
    assert run(wechat_app, jobs) == ["already handled"]


def test_nothing_is_lost_when_redis_is_down(wechat_app, wechat_standin, connection: Connection) -> None:
    down = JobQueue("redis://127.0.0.1:1/0")  # nobody listens there
    session = Session(bind=connection, info={SESSION_KEY: down}, join_transaction_mode="create_savepoint")
    user, _ = make_resident(session, "unlucky")
    add_subscription_credit(session, user.id, "case_status")
    case = filed_case(session, user)
    session.commit()  # the case is saved although the job could not be queued
    assert case.id is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    waiting = pending_notifications(session, older_than=dt.timedelta(minutes=1), now=later)
    assert len(waiting) == 1
    with wechat_app.app_context():
        assert send_notification(waiting[0]) == "sent"
    assert len(wechat_standin.subscribe_messages) == 1
    assert pending_notifications(session, older_than=dt.timedelta(minutes=1), now=later) == []
    session.close()


def test_relay_command_requeues_what_waited_too_long(wechat_app, wechat_standin, session: Session) -> None:
    user, _ = make_resident(session, "relayed")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    session.add(Notification(user_id=user.id, kind="case_status", payload={"thing1": "测试"}, created_at=old))
    session.commit()
    result = wechat_app.test_cli_runner().invoke(args=["notifications", "relay"])
    assert result.exit_code == 0, result.output
    assert "re-queued 1 notifications" in result.output
    if not wechat_app.config["QINGPU"].REDIS_URL:  # in-process mode: sent at once
        assert len(wechat_standin.subscribe_messages) == 1


def test_the_job_asked_for_by_its_path_is_the_sending_job() -> None:
    from rq.utils import import_attribute

    from backend.messages.services import SEND_NOTIFICATION_JOB

    assert import_attribute(SEND_NOTIFICATION_JOB) is send_notification
