"""The sending job's claim: given back at once when it fails before WeChat is called, and a message WeChat
accepted is recorded as sent even when the first commit of it fails, so nothing waits ten minutes and
nothing is sent twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import Connection, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.config import Config
from backend.db import utcnow
from backend.messages import jobs
from backend.messages.jobs import send_notification
from backend.messages.models import Notification
from backend.messages.services import (
    STALE_SENDING,
    claim_notification,
    pending_notifications,
    release_notification,
)
from backend.wechat import WeChatError
from backend.wechat.client import StableTokenClient
from tests.support.accounts import make_resident
from tests.support.wechat_standin import SUBSCRIBE_SEND, WeChatStandIn

RELAY_WAIT = dt.timedelta(seconds=60)  # the relay's default --older-than


def waiting_notification(session: Session, name: str) -> int:
    user, _ = make_resident(session, name)
    row = Notification(user_id=user.id, kind="case_status", payload={"thing1": "测试"})
    session.add(row)
    session.commit()
    return row.id


def state(session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id, populate_existing=True)
    assert row is not None
    return row


def relay_finds(session: Session, notification_id: int, *, after: dt.timedelta) -> bool:
    return notification_id in pending_notifications(session, older_than=RELAY_WAIT, now=utcnow() + after)


def lost_connection() -> OperationalError:
    return OperationalError("COMMIT", None, Exception("(2013, 'Lost connection to server during query')"))


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RECORD_SENT_PAUSES", (0, 0))


# -- failures after the claim, before WeChat is called ------------------------------------------------------


@contextmanager
def fail_user_read(
    error: Exception, monkeypatch: pytest.MonkeyPatch, connection: Connection
) -> Iterator[None]:
    # The database fails on the read of the resident (a SELECT joining app_user), not on the claim.
    def refuse(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "app_user" in statement:
            raise error

    event.listen(connection, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", refuse)


@contextmanager
def fail_template_lookup(
    error: Exception, monkeypatch: pytest.MonkeyPatch, connection: Connection
) -> Iterator[None]:
    def refuse(_config: Config) -> dict[str, str]:
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(Config, "subscribe_templates", property(refuse))
        yield


@contextmanager
def fail_access_token(
    error: Exception, monkeypatch: pytest.MonkeyPatch, connection: Connection
) -> Iterator[None]:
    # Inside the gateway, before its request goes out: the token is read from its storage (Redis in production).
    def refuse(_client: StableTokenClient) -> str:
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(StableTokenClient, "access_token", property(refuse))
        yield


STAGES: dict[str, Callable[..., AbstractContextManager[None]]] = {
    "user read": fail_user_read,
    "template lookup": fail_template_lookup,
    "access token": fail_access_token,
}
ERRORS: dict[str, Callable[[], Exception]] = {
    "RuntimeError": lambda: RuntimeError("a bug"),
    "redis down": lambda: RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
}


@pytest.mark.parametrize("error_name", ERRORS)
@pytest.mark.parametrize("stage", STAGES)
def test_a_failure_before_the_send_gives_the_claim_back_and_the_next_run_sends_once(
    stage: str,
    error_name: str,
    wechat_app,
    wechat_standin: WeChatStandIn,
    session: Session,
    connection: Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notification_id = waiting_notification(session, f"release{stage[:4]}{error_name[:4]}")
    error = ERRORS[error_name]()
    with (
        STAGES[stage](error, monkeypatch, connection),
        wechat_app.app_context(),
        pytest.raises(type(error)) as raised,
    ):
        send_notification(notification_id)
    assert raised.value is error
    row = state(session, notification_id)
    assert (row.status, row.claimed_at, row.attempts) == ("pending", None, 1)
    assert wechat_standin.calls_to(SUBSCRIBE_SEND) == 0
    # Taken up by the relay's next run, not ten minutes later.
    assert relay_finds(session, notification_id, after=RELAY_WAIT + dt.timedelta(seconds=1))

    with wechat_app.app_context():
        assert send_notification(notification_id) == "sent"
        assert send_notification(notification_id) == "already handled"
    assert len(wechat_standin.subscribe_messages) == 1
    row = state(session, notification_id)
    assert (row.status, row.attempts) == ("sent", 2) and row.sent_at is not None
    assert not relay_finds(session, notification_id, after=STALE_SENDING + dt.timedelta(days=1))


def test_redis_down_under_the_access_token_gives_the_claim_back(
    make_app, wechat_app, wechat_standin: WeChatStandIn, session: Session
) -> None:
    """No monkeypatch: the gateway keeps its token in a Redis nobody listens on."""
    redis_down = make_app(
        REDIS_URL="redis://127.0.0.1:1/0",
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
        WECHAT_TEMPLATE_CASE_STATUS="tmpl-case-status",
    )
    notification_id = waiting_notification(session, "redisdown")
    with redis_down.app_context(), pytest.raises(RedisConnectionError):
        send_notification(notification_id)
    row = state(session, notification_id)
    assert (row.status, row.claimed_at) == ("pending", None)
    assert wechat_standin.calls_to(SUBSCRIBE_SEND) == 0
    with wechat_app.app_context():
        assert send_notification(notification_id) == "sent"
    assert len(wechat_standin.subscribe_messages) == 1


def test_only_the_claim_that_failed_is_given_back(session: Session) -> None:
    notification_id = waiting_notification(session, "ownclaim")
    claimed_at = utcnow() - STALE_SENDING - dt.timedelta(minutes=1)
    assert claim_notification(session, notification_id, now=claimed_at)
    retaken_at = utcnow()  # another worker took the stale claim over
    assert claim_notification(session, notification_id, now=retaken_at)
    assert not release_notification(session, notification_id, claimed_at=claimed_at)
    assert state(session, notification_id).status == "sending"
    assert release_notification(session, notification_id, claimed_at=retaken_at)
    row = state(session, notification_id)
    assert (row.status, row.claimed_at, row.attempts) == ("pending", None, 2)


# -- after WeChat accepted ----------------------------------------------------------------------------------


def fail_sent_commits(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """The next `times` records of "sent" fail as a lost connection would: written, then rolled back."""
    real = jobs.finish_notification
    failed: list[str] = []

    def flaky(session: Session, notification_id: int, status: str, error: str = "", **kwargs) -> None:
        real(session, notification_id, status, error, **kwargs)
        if status == "sent" and len(failed) < times:
            failed.append(status)
            raise lost_connection()

    monkeypatch.setattr(jobs, "finish_notification", flaky)
    return failed


def test_a_sent_message_whose_first_record_fails_ends_sent_after_one_call(
    wechat_app, wechat_standin: WeChatStandIn, session: Session, monkeypatch: pytest.MonkeyPatch, no_pauses
) -> None:
    notification_id = waiting_notification(session, "recordretry")
    failed = fail_sent_commits(monkeypatch, times=1)
    with wechat_app.app_context():
        assert send_notification(notification_id) == "sent"
        assert send_notification(notification_id) == "already handled"
    assert failed == ["sent"]
    assert len(wechat_standin.subscribe_messages) == 1
    row = state(session, notification_id)
    assert row.status == "sent" and row.sent_at is not None
    assert not relay_finds(session, notification_id, after=STALE_SENDING + dt.timedelta(days=1))


def test_a_sent_message_that_cannot_be_recorded_does_not_raise_and_waits_for_the_relay(
    wechat_app, wechat_standin: WeChatStandIn, session: Session, monkeypatch: pytest.MonkeyPatch, no_pauses
) -> None:
    """The documented window, made to happen: RQ must not run the job again, the relay sends it after
    STALE_SENDING."""
    notification_id = waiting_notification(session, "recordlost")
    failed = fail_sent_commits(monkeypatch, times=len(jobs.RECORD_SENT_PAUSES) + 1)
    with wechat_app.app_context():
        assert send_notification(notification_id) == "sent, not recorded"
        assert send_notification(notification_id) == "already handled"  # an RQ retry within the claim
    assert len(failed) == len(jobs.RECORD_SENT_PAUSES) + 1
    assert len(wechat_standin.subscribe_messages) == 1
    assert state(session, notification_id).status == "sending"
    monkeypatch.undo()
    for after, outcome in [(RELAY_WAIT * 2, "already handled"), (STALE_SENDING * 1.1, "sent")]:
        assert relay_finds(session, notification_id, after=after)
        monkeypatch.setattr(jobs, "utcnow", lambda after=after: utcnow() + after)
        with wechat_app.app_context():
            assert send_notification(notification_id) == outcome
    assert len(wechat_standin.subscribe_messages) == 2  # the one duplicate the module docstring owns up to


# -- WeChat said no -----------------------------------------------------------------------------------------


def test_a_busy_wechat_leaves_it_pending_and_raises(
    wechat_app, wechat_standin: WeChatStandIn, session: Session
) -> None:
    notification_id = waiting_notification(session, "busy")
    wechat_standin.fail_next(SUBSCRIBE_SEND, -1)
    with wechat_app.app_context(), pytest.raises(WeChatError) as raised:
        send_notification(notification_id)
    assert raised.value.retryable
    row = state(session, notification_id)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("-1 ")
    with wechat_app.app_context():
        assert send_notification(notification_id) == "sent"
    assert len(wechat_standin.subscribe_messages) == 1


def test_a_refusal_that_cannot_be_recorded_gives_the_claim_back(
    wechat_app, wechat_standin: WeChatStandIn, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    notification_id = waiting_notification(session, "refusedlost")
    real = jobs.finish_notification

    def down(session: Session, notification_id: int, status: str, error: str = "", **kwargs) -> None:
        if status == "refused":
            raise lost_connection()
        real(session, notification_id, status, error, **kwargs)

    monkeypatch.setattr(jobs, "finish_notification", down)
    wechat_standin.fail_next(SUBSCRIBE_SEND, 43101)
    with wechat_app.app_context(), pytest.raises(OperationalError):
        send_notification(notification_id)
    row = state(session, notification_id)
    assert (row.status, row.claimed_at) == ("pending", None)
    monkeypatch.undo()
    wechat_standin.fail_next(SUBSCRIBE_SEND, 43101)
    with wechat_app.app_context():
        assert send_notification(notification_id) == "refused"
    assert wechat_standin.subscribe_messages == []
