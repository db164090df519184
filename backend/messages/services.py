"""Rules of resident messaging: in-app messages, one-time subscribe grants, and the notification outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, selectinload

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


def _consume_credit(session: Session, user_id: int, kind: str) -> bool:
    # One UPDATE, so two processes can never spend the same grant.
    changed = rows_changed(
        session,
        update(SubscriptionCredit)
        .where(
            SubscriptionCredit.user_id == user_id,
            SubscriptionCredit.kind == kind,
            SubscriptionCredit.credits > 0,
        )
        .values(credits=SubscriptionCredit.credits - 1)
        .execution_options(synchronize_session=False),
    )
    return changed == 1


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
    The grants are spent first (one UPDATE each) and the rows written together in one flush, whose ids
    name the jobs."""
    now = now or utcnow()
    notifications = []
    session.flush()  # what the caller changed before (a grant among it) is written before any is spent
    with session.no_autoflush:  # and the messages added here are not written before each grant is spent
        for user_id in dict.fromkeys(user_ids):
            session.add(
                Message(user_id=user_id, case_id=case_id, title=title[:64], body=body, created_at=now)
            )
            if subscribe is not None and _consume_credit(session, user_id, CASE_STATUS):
                notification = Notification(
                    user_id=user_id,
                    case_id=case_id,
                    kind=CASE_STATUS,
                    page=page,
                    payload=truncate_subscribe_data(subscribe, CASE_STATUS_FIELDS),
                    created_at=now,
                )
                session.add(notification)
                notifications.append(notification)
    session.flush()
    for notification in notifications:
        enqueue_notification(session, notification.id)
    return notifications


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
