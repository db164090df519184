"""Rules of resident messaging: in-app messages, one-time subscribe grants, and the notification outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached, selectinload

from backend.accounts.models import User
from backend.db import rows_changed, upsert, utcnow
from backend.messages.models import Message, Notification, SubscriptionCredit
from backend.pagination import Page, paginate
from backend.queue import enqueue_after_commit
from backend.wechat import truncate_subscribe_data
from backend.workcalendar import SHANGHAI

CASE_STATUS = "case_status"  # a case changed status
ARTICLE = "article"  # the studio pushed a legal-education article (backend/articles/pushes.py)
MAX_MARK_READ = 200  # message ids one request may mark read
MAX_CREDITS = 50  # WeChat grants are one-time; more than this is a client bug, not intent
CASE_STATUS_FIELDS = {
    "thing1": "thing",
    "character_string2": "character_string",
    "phrase3": "phrase",
    "thing4": "thing",
    "time5": "time",
}

SEND_NOTIFICATION_JOB = "backend.messages.jobs.send_notification"


def add_subscription_credit(session: Session, user_id: int, kind: str) -> int:
    """Record one one-time grant for `kind`; returns the credits the user now has. One upsert, so two
    grants arriving together both count and neither fails on the (user, kind) key."""
    now = utcnow()
    upsert(
        session,
        SubscriptionCredit,
        {"user_id": user_id, "kind": kind, "credits": 1, "updated_at": now},
        {
            "credits": case(
                (SubscriptionCredit.credits < MAX_CREDITS, SubscriptionCredit.credits + 1), else_=MAX_CREDITS
            ),
            "updated_at": now,
        },
        key=["user_id", "kind"],
    )
    credits = session.scalar(
        select(SubscriptionCredit.credits).where(
            SubscriptionCredit.user_id == user_id, SubscriptionCredit.kind == kind
        )
    )
    return int(credits or 0)


_SPEND_GRANT = (
    update(SubscriptionCredit)
    .where(
        SubscriptionCredit.user_id == bindparam("grantee"),
        SubscriptionCredit.kind == bindparam("grant_kind"),
        SubscriptionCredit.credits > 0,
    )
    .values(credits=SubscriptionCredit.credits - 1)
)


def _consume_credit(session: Session, user_id: int, kind: str) -> bool:
    # One UPDATE, so two processes can never spend the same grant; built once and sent through Core (the
    # ORM's bulk-update layer costs more than the statement). The caller has flushed what it changed.
    result = session.connection().execute(_SPEND_GRANT, {"grantee": user_id, "grant_kind": kind})
    return result.rowcount == 1


def subscription_credits(session: Session, user_id: int, kind: str) -> int:
    """How many grants for `kind` the user has left."""
    credits = session.scalar(
        select(SubscriptionCredit.credits).where(
            SubscriptionCredit.user_id == user_id, SubscriptionCredit.kind == kind
        )
    )
    return int(credits or 0)


def take_subscription_credit(session: Session, user_id: int, kind: str) -> bool:
    """Spend one of the user's grants for `kind`, if they have one (one UPDATE: never spent twice)."""
    if session.autoflush:
        session.flush()  # a grant the caller added is written before it is spent, as a query would
    return _consume_credit(session, user_id, kind)


def give_back_subscription_credit(session: Session, user_id: int, kind: str) -> None:
    """Return a grant taken for a message that did not go out, so only a sent message uses one up."""
    session.execute(
        update(SubscriptionCredit)
        .where(
            SubscriptionCredit.user_id == user_id,
            SubscriptionCredit.kind == kind,
            SubscriptionCredit.credits < MAX_CREDITS,
        )
        .values(credits=SubscriptionCredit.credits + 1)
        .execution_options(synchronize_session=False)
    )


def tell_residents(
    session: Session,
    user_ids: Iterable[int],
    *,
    case_id: int | None,
    title: str,
    body: str,
    subscribe: dict[str, str] | None = None,
    page: str = "",
    now: dt.datetime | None = None,
) -> list[Notification]:
    """An in-app message to each user and, where they granted one, a WeChat subscribe message sent
    after commit. The outbox row commits with the change, so Redis or a worker failing loses nothing.
    The grants are spent first (one UPDATE each), then the messages and the outbox rows are written, one
    statement each, whose ids name the jobs. Nothing reads them back: they are written through Core, and the
    outbox rows returned are held by the session as if it had loaded them."""
    now = now or utcnow()
    users = list(dict.fromkeys(user_ids))
    session.flush()  # what the caller changed before (a grant among it) is written before any is spent
    granted = [u for u in users if subscribe is not None and _consume_credit(session, u, CASE_STATUS)]
    connection = session.connection()
    if users:
        connection.execute(
            _INSERT_MESSAGE,
            [
                {"user_id": u, "case_id": case_id, "title": title[:64], "body": body, "created_at": now}
                for u in users
            ],
        )
    if not granted or subscribe is None:
        return []
    payload = truncate_subscribe_data(subscribe, CASE_STATUS_FIELDS)
    notifications = [
        Notification(user_id=u, case_id=case_id, kind=CASE_STATUS, page=page, payload=payload, created_at=now)
        for u in granted
    ]
    rows = [_column_values(notification) for notification in notifications]
    for notification, notification_id in zip(notifications, _inserted_ids(connection, rows), strict=True):
        notification.id = notification_id
        make_transient_to_detached(notification)  # held as if loaded: nothing is read back
        session.add(notification)
        enqueue_notification(session, notification_id)
    return notifications


_INSERT_MESSAGE = insert(Message)
_OUTBOX_COLUMNS = [column for column in Notification.__table__.columns if not column.primary_key]
_INSERT_NOTIFICATION = insert(Notification)
_INSERT_NOTIFICATIONS = insert(Notification).returning(Notification.id, sort_by_parameter_order=True)


def _column_values(notification: Notification) -> dict[str, Any]:
    """The outbox row's columns, each column's default given to the notification where it has no value (as
    the ORM would when it writes it)."""
    values = inspect(notification).dict
    for column in _OUTBOX_COLUMNS:
        if column.key not in values:
            default = column.default
            value = None if default is None else default.arg(None) if default.is_callable else default.arg
            setattr(notification, column.key, value)
    return {column.key: values[column.key] for column in _OUTBOX_COLUMNS}


def _inserted_ids(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    # one statement where the database returns the ids in the rows' order, else one a row
    if len(rows) > 1 and connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        return list(connection.execute(_INSERT_NOTIFICATIONS, rows).scalars())
    ids = []
    for row in rows:
        key = connection.execute(_INSERT_NOTIFICATION, row).inserted_primary_key
        assert key is not None
        ids.append(int(key[0]))
    return ids


def enqueue_notification(session: Session, notification_id: int) -> None:
    """Send the outbox row by a job once the transaction commits (by the job's dotted path: the jobs module
    imports this one)."""
    enqueue_after_commit(
        session, SEND_NOTIFICATION_JOB, notification_id, job_id=f"notification-{notification_id}"
    )


def case_status_fields(
    *, category: str, tracking_no: str, status: str, remark: str, at: dt.datetime
) -> dict[str, str]:
    return {
        "thing1": category,
        "character_string2": tracking_no,
        "phrase3": status,
        "thing4": remark,
        "time5": at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
    }


def list_messages(session: Session, user_id: int, *, page: int, per_page: int) -> tuple[Page[Message], int]:
    """The user's messages, newest first, and how many are unread."""
    query = (
        select(Message)
        .where(Message.user_id == user_id)
        .options(selectinload(Message.case))
        .order_by(Message.id.desc())
    )
    return paginate(session, query, page, per_page), unread_count(session, user_id)


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Message.id)).where(Message.user_id == user_id, Message.read_at.is_(None))
        )
        or 0
    )


def mark_read(
    session: Session, user_id: int, ids: list[int] | None, *, now: dt.datetime | None = None
) -> int:
    """Mark the user's messages read (`ids`, or all when None); returns how many changed."""
    statement = (
        update(Message)
        .where(Message.user_id == user_id, Message.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        statement = statement.where(Message.id.in_(ids))
    return rows_changed(session, statement)


def pending_notifications(
    session: Session, *, older_than: dt.timedelta, now: dt.datetime | None = None
) -> list[int]:
    """Outbox rows that should have been sent by now: never picked up (Redis was down), or stuck while sending."""
    cutoff = (now or utcnow()) - older_than
    return list(
        session.scalars(
            select(Notification.id)
            .where(
                ((Notification.status == "pending") & (Notification.created_at <= cutoff))
                | ((Notification.status == "sending") & (Notification.claimed_at <= cutoff))
            )
            .order_by(Notification.id)
        )
    )


STALE_SENDING = dt.timedelta(minutes=10)


def claim_notification(session: Session, notification_id: int, *, now: dt.datetime | None = None) -> bool:
    """Take the notification for sending, unless it was sent, given up, or is being sent right now.
    One UPDATE, so two workers running the same job cannot both claim it."""
    now = now or utcnow()
    changed = rows_changed(
        session,
        update(Notification)
        .where(
            Notification.id == notification_id,
            (Notification.status == "pending")
            | ((Notification.status == "sending") & (Notification.claimed_at <= now - STALE_SENDING)),
        )
        .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False),
    )
    return changed == 1


def release_notification(session: Session, notification_id: int, *, claimed_at: dt.datetime) -> bool:
    """Give back a claim whose job failed before WeChat was called: pending again (attempts kept, claimed_at
    cleared), so a retry or the relay sends it at once rather than after STALE_SENDING. Only the claim
    taken at `claimed_at` is given back, never a later one."""
    changed = rows_changed(
        session,
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == "sending",
            Notification.claimed_at == claimed_at,
        )
        .values(status="pending", claimed_at=None)
        .execution_options(synchronize_session=False),
    )
    return changed == 1


@dataclass(frozen=True)
class OutgoingNotification:
    """What the sending job needs, read before WeChat is called, so no transaction stays open during the call."""

    openid: str
    template_id: str
    payload: dict[str, str]
    page: str | None


def outgoing_notification(
    session: Session, notification_id: int, templates: dict[str, str]
) -> OutgoingNotification | None:
    """The claimed notification as a message to send, or None when its user is gone or its kind has no
    template (`templates`: kind -> WeChat template id)."""
    row = session.execute(
        select(Notification.kind, Notification.payload, Notification.page, User.openid)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id == notification_id)
    ).one_or_none()
    if row is None or not templates.get(row.kind):
        return None
    return OutgoingNotification(row.openid, templates[row.kind], dict(row.payload), row.page or None)


def finish_notification(
    session: Session,
    notification_id: int,
    status: str,
    error: str = "",
    *,
    now: dt.datetime | None = None,
) -> None:
    """Record the outcome of a claim: sent, refused (the user revoked consent), failed, or pending again
    (retry later). One UPDATE by id, so it also works in a fresh session after the claiming one broke; a
    row already recorded as sent is left as it is (a retried "sent" whose first commit did land)."""
    values: dict[str, object] = {"status": status, "last_error": error[:255]}
    if status == "sent":
        values["sent_at"] = now or utcnow()
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status != "sent")
        .values(values)
        .execution_options(synchronize_session=False)
    )
