"""Pushing a published article to an audience (a town, an estate, everyone): who receives it, each delivery
listed once and claimed with one UPDATE, the WeChat budget every worker shares, and what became of each.

The life of a delivery: listed `waiting` when the push is planned; claimed `sending` by a batch job, which in
the same transaction writes the resident's in-app message and, if they granted one, takes a subscribe credit;
then `delivered` (the subscribe message went out, or none was due) or `failed` (refused by the resident, or
WeChat's error after the retries, the credit given back). A transient WeChat error puts it back to `waiting`
for the job's retry; the relay (`flask --app backend notifications relay`) queues what a lost job or a killed
worker left behind. Its `wechat` column says how far the subscribe message got:

    ""            not claimed yet (no in-app message written)
    no_credit     in-app message only: no grant, or WeChat's article template is not configured
    sending       a credit is held and the message is, or was, on its way to WeChat
    retry         a credit is held; WeChat was busy and the send is tried again
    sent          WeChat accepted it
    unconfirmed   its worker stopped while sending: whether WeChat got it is unknown, and it is not sent again
    refused       the resident refused the template (43101); the credit was given back
    failed        WeChat refused it for good, or stayed busy through every attempt; the credit was given back
    withdrawn     the article was withdrawn before this delivery was sent
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal

from redis import Redis
from sqlalchemy import ColumnElement, Select, exists, func, insert, or_, select, true, update
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.articles.models import (
    Article,
    ArticleEvent,
    ArticleStatus,
    DeliveryStatus,
    Push,
    PushDelivery,
    ResidentEstate,
    ResidentPreference,
)
from backend.audit.services import record_audit
from backend.cases.workflow import Actor, Role
from backend.db import rows_changed
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.messages.models import Message
from backend.messages.services import ARTICLE, give_back_subscription_credit, take_subscription_credit
from backend.org.models import Estate, Town
from backend.pagination import Page, paginate
from backend.queue import enqueue_after_commit
from backend.staff.models import StaffUser
from backend.wechat import WeChatError, truncate_subscribe_data
from backend.workcalendar import SHANGHAI

Audience = Literal["town", "estate", "all"]
AUDIENCE_LABELS: Final[dict[str, str]] = {"town": "街镇", "estate": "小区", "all": "全区居民"}

BATCH_SIZE: Final = 100  # deliveries one send job takes
MAX_ATTEMPTS: Final = 5  # claims of one delivery before a WeChat that stays busy makes it fail
# After a transient WeChat error, when the relay may queue the delivery again (the job's own RQ retries come
# after 10, 60 and 300 seconds; these cover a job whose retries ran out or were lost).
RETRY_DELAYS: Final = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
)
STALE_SENDING: Final = dt.timedelta(minutes=10)  # a delivery claimed this long ago lost its worker
# How long a queued batch may wait before the relay queues it again: this, plus the time the batches before
# it need at the configured rate (a big push's last batch starts late by design, not because it was lost).
QUEUE_LEASE: Final = dt.timedelta(minutes=10)

PLAN_JOB: Final = "backend.articles.jobs.plan_push"
SEND_JOB: Final = "backend.articles.jobs.send_push_batch"
ARTICLE_PAGE: Final = "pages/articles/detail?id={id}"  # the mini-program page a subscribe message opens
# The article template's fields (WECHAT_TEMPLATE_ARTICLE): 文章标题, 内容摘要, 发布单位, 推送时间.
ARTICLE_FIELDS: Final = {"thing1": "thing", "thing2": "thing", "thing3": "thing", "time4": "time"}
STUDIO: Final = "城管社区工作室"

WITHDRAWN_ERROR: Final = "article withdrawn before sending"


def _require_editor(actor: Actor) -> None:
    if actor.role is not Role.EDITOR:
        raise Forbidden("只有社区工作室编辑可以推送文章")


# ------------------------------------------------------------------------------------------ creating one


@dataclass(frozen=True)
class PushTarget:
    """Whom to push to: a town, an estate, or everyone (with neither)."""

    audience: Audience
    town_id: int | None = None
    estate_id: int | None = None


def create_push(
    session: Session, actor: Actor, article_id: int, target: PushTarget, *, now: dt.datetime, ip: str = ""
) -> Push:
    """Push a published article to an audience. Its recipients are listed by a job after commit (an audience
    of everyone can be large), which then asks for the send jobs; both are on the article's record and the
    audit trail."""
    _require_editor(actor)
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound("没有这篇文章")
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict("文章发布后才能推送", description=f"article {article_id} is {article.status}")
    town_id = estate_id = None
    if target.audience == "town":
        if target.town_id is None or session.get(Town, target.town_id) is None:
            raise ValidationFailed.on("town_id", "请选择推送的街镇")
        town_id = target.town_id
    elif target.audience == "estate":
        if target.estate_id is None or session.get(Estate, target.estate_id) is None:
            raise ValidationFailed.on("estate_id", "请选择推送的小区")
        estate_id = target.estate_id
    push = Push(
        article_id=article.id,
        audience=target.audience,
        town_id=town_id,
        estate_id=estate_id,
        created_by=actor.id,
        created_at=now,
    )
    session.add(push)
    session.flush()
    audience = describe_audience(session, push)
    session.add(
        ArticleEvent(
            article_id=article.id,
            action="push",
            actor_id=actor.id,
            actor_label=actor.label,
            note=f"推送给{audience}",
            data={"push_id": push.id, "audience": push.audience, "town_id": town_id, "estate_id": estate_id},
            created_at=now,
        )
    )
    record_audit(
        session,
        actor,
        "article.push",
        "push",
        push.id,
        detail={"article_id": article.id, "title": article.title, "audience": audience},
        ip=ip,
        now=now,
    )
    enqueue_after_commit(session, PLAN_JOB, push.id, job_id=f"push-plan-{push.id}")
    return push


def describe_audience(session: Session, push: Push) -> str:
    """The audience in words: 徐泾镇, 康虹花园（徐泾镇）, 全区居民."""
    if push.audience == "town" and push.town_id is not None:
        return session.scalar(select(Town.name).where(Town.id == push.town_id)) or "街镇"
    if push.audience == "estate" and push.estate_id is not None:
        row = session.execute(
            select(Estate.name, Town.name)
            .join(Town, Town.id == Estate.town_id)
            .where(Estate.id == push.estate_id)
        ).one_or_none()
        return f"{row[0]}（{row[1]}）" if row else "小区"
    return AUDIENCE_LABELS["all"]


# ------------------------------------------------------------------------------------------- planning


def plan_push(session: Session, push_id: int, *, now: dt.datetime, sends_per_second: int) -> int:
    """List the push's recipients as deliveries and ask for their send jobs; returns how many were added.

    A recipient has pushes on (a resident who never chose has), is in the audience (for a town: follows an
    estate of the town; for an estate: follows it; everyone: every resident), wants one of the article's
    categories or chose no topic, and has not had this article from any push yet. Planning again adds
    nobody twice: the article's row is locked, so two planners of the same article take turns, and each
    lists only those without a delivery of it."""
    push = session.get(Push, push_id)
    if push is None:
        return 0
    article = session.scalars(
        select(Article)
        .where(Article.id == push.article_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    added: list[int] = []
    if article.status == ArticleStatus.PUBLISHED:
        categories = set(article.categories)
        added = [
            user_id
            for user_id, topics in session.execute(_recipients(push)).yield_per(1000)
            if not topics or categories & set(topics)
        ]
        for start in range(0, len(added), 1000):
            session.execute(
                insert(PushDelivery),
                [
                    {"push_id": push.id, "user_id": user_id, "status": DeliveryStatus.WAITING, "wechat": ""}
                    for user_id in added[start : start + 1000]
                ],
            )
    push.planned_at = now
    session.flush()
    queue_waiting(session, push.id, now=now, sends_per_second=sends_per_second)
    finish_push_if_done(session, push.id, now=now)
    return len(added)


def _recipients(push: Push) -> Select[int, list[str]]:
    """(user id, topics: None for a resident who never chose) of the audience who want pushes and have not
    had the article yet."""
    wants_pushes = or_(ResidentPreference.user_id.is_(None), ResidentPreference.pushes == true())
    already = (
        select(PushDelivery.id)
        .join(Push, Push.id == PushDelivery.push_id)
        .where(PushDelivery.user_id == User.id, Push.article_id == push.article_id)
    )
    query = (
        select(User.id, ResidentPreference.topics)
        .outerjoin(ResidentPreference, ResidentPreference.user_id == User.id)
        .where(wants_pushes, ~exists(already))
        .order_by(User.id)
    )
    if push.audience == "estate":
        query = query.where(
            User.id.in_(select(ResidentEstate.user_id).where(ResidentEstate.estate_id == push.estate_id))
        )
    elif push.audience == "town":
        query = query.where(
            User.id.in_(
                select(ResidentEstate.user_id)
                .join(Estate, Estate.id == ResidentEstate.estate_id)
                .where(Estate.town_id == push.town_id)
            )
        )
    return query


def queue_waiting(
    session: Session,
    push_id: int,
    *,
    now: dt.datetime,
    sends_per_second: int,
    ids: Iterable[int] | None = None,
) -> int:
    """Ask for a send job per batch of the push's waiting deliveries (or of `ids`), after commit. Each
    delivery is leased until its batch should have run; the relay queues it again only after that."""
    if ids is None:
        ids = session.scalars(
            select(PushDelivery.id)
            .where(PushDelivery.push_id == push_id, PushDelivery.status == DeliveryStatus.WAITING)
            .order_by(PushDelivery.id)
        )
    waiting = list(ids)
    seconds_per_batch = BATCH_SIZE / sends_per_second
    for number, start in enumerate(range(0, len(waiting), BATCH_SIZE)):
        batch = waiting[start : start + BATCH_SIZE]
        lease = now + QUEUE_LEASE + dt.timedelta(seconds=math.ceil(number * seconds_per_batch))
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_(batch), PushDelivery.status == DeliveryStatus.WAITING)
            .values(next_attempt_at=lease)
            .execution_options(synchronize_session=False)
        )
        enqueue_after_commit(
            session, SEND_JOB, push_id, batch[0], batch[-1], job_id=f"push-{push_id}-{batch[0]}"
        )
    return len(waiting)


# -------------------------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Letter:
    """What every delivery of a push says: read once per batch."""

    push_id: int
    article_id: int
    published: bool
    title: str  # of the in-app message
    body: str
    subscribe: dict[str, str]  # the subscribe message's fields
    page: str


def push_letter(session: Session, push_id: int) -> Letter | None:
    row = session.execute(
        select(Push, Article).join(Article, Article.id == Push.article_id).where(Push.id == push_id)
    ).one_or_none()
    if row is None:
        return None
    push, article = row
    summary = article.summary or "点击查看全文"
    pushed_at = push.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return Letter(
        push_id=push.id,
        article_id=article.id,
        published=article.status == ArticleStatus.PUBLISHED,
        title=f"普法：{article.title}"[:64],
        body=summary,
        subscribe=truncate_subscribe_data(
            {"thing1": article.title, "thing2": summary, "thing3": STUDIO, "time4": pushed_at}, ARTICLE_FIELDS
        ),
        page=ARTICLE_PAGE.format(id=article.id),
    )


def batch_deliveries(session: Session, push_id: int, first_id: int, last_id: int) -> list[int]:
    """The deliveries of a batch still to do (a retried job finds the ones it sent delivered and skips them)."""
    return list(
        session.scalars(
            select(PushDelivery.id)
            .where(
                PushDelivery.push_id == push_id,
                PushDelivery.id.between(first_id, last_id),
                PushDelivery.status.in_([DeliveryStatus.WAITING, DeliveryStatus.SENDING]),
            )
            .order_by(PushDelivery.id)
        )
    )


@dataclass(frozen=True)
class Claim:
    """A claimed delivery: whether a subscribe message is to go out now, and where to."""

    delivery_id: int
    user_id: int
    openid: str
    send: bool


def _claimable(now: dt.datetime) -> ColumnElement[bool]:
    return (PushDelivery.status == DeliveryStatus.WAITING) | (
        (PushDelivery.status == DeliveryStatus.SENDING) & (PushDelivery.claimed_at <= now - STALE_SENDING)
    )


def claim_delivery(
    session: Session, delivery_id: int, letter: Letter, *, subscribe: bool, now: dt.datetime
) -> Claim | None:
    """Take the delivery with one UPDATE (waiting, or sending for too long, to sending), unless another job
    has it or it is done. The first claim writes the in-app message and takes a subscribe credit where one
    is due (`subscribe`: WeChat and the article template are configured), in this same transaction: a
    delivery without a subscribe message to send is delivered right here."""
    claimed = rows_changed(
        session,
        update(PushDelivery)
        .where(PushDelivery.id == delivery_id, _claimable(now))
        .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=PushDelivery.attempts + 1)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        return None
    delivery = session.scalars(
        select(PushDelivery).where(PushDelivery.id == delivery_id).execution_options(populate_existing=True)
    ).one()
    openid = session.scalar(select(User.openid).where(User.id == delivery.user_id)) or ""
    if delivery.wechat == "":
        session.add(
            Message(
                user_id=delivery.user_id, case_id=None, title=letter.title, body=letter.body, created_at=now
            )
        )
        if subscribe and take_subscription_credit(session, delivery.user_id, ARTICLE):
            delivery.wechat = "sending"
        else:
            _deliver(delivery, "no_credit", now)
    elif delivery.wechat == "retry":
        if subscribe:
            delivery.wechat = "sending"  # with the credit taken at the first claim
        else:  # WeChat's configuration was removed meanwhile
            give_back_subscription_credit(session, delivery.user_id, ARTICLE)
            _deliver(delivery, "no_credit", now)
    elif delivery.wechat == "sending":
        # Its worker stopped between taking the credit and recording WeChat's answer: the message may have
        # gone out, and a second one would be a duplicate, so it is counted as sent, unconfirmed.
        _deliver(delivery, "unconfirmed", now)
    session.flush()
    return Claim(delivery.id, delivery.user_id, openid, send=delivery.wechat == "sending")


def _deliver(delivery: PushDelivery, wechat: str, now: dt.datetime) -> None:
    delivery.status = DeliveryStatus.DELIVERED
    delivery.wechat = wechat
    delivery.delivered_at = now
    delivery.next_attempt_at = None


def record_sent(session: Session, claim: Claim, *, now: dt.datetime) -> None:
    """WeChat accepted the subscribe message: the credit taken at the claim is spent."""
    delivery = session.get_one(PushDelivery, claim.delivery_id)
    _deliver(delivery, "sent", now)
    delivery.last_error = ""
    session.flush()


SendOutcome = Literal["refused", "failed", "retry"]


def record_send_error(session: Session, claim: Claim, error: WeChatError, *, now: dt.datetime) -> SendOutcome:
    """WeChat did not take the message. Refused by the resident, or refused for good: failed, never tried
    again, the credit given back. Busy, rate-limited or unreachable: waiting again, the credit still held,
    until MAX_ATTEMPTS claims."""
    delivery = session.get_one(PushDelivery, claim.delivery_id)
    delivery.last_error = f"{error.errcode} {error.errmsg}"[:255]
    outcome: SendOutcome
    if error.retryable and not error.user_refused and delivery.attempts < MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.WAITING
        delivery.wechat = "retry"
        delivery.next_attempt_at = now + RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
        outcome = "retry"
    else:
        outcome = "refused" if error.user_refused else "failed"
        give_back_subscription_credit(session, delivery.user_id, ARTICLE)
        delivery.status = DeliveryStatus.FAILED
        delivery.wechat = outcome
        delivery.next_attempt_at = None
    session.flush()
    return outcome


def drop_withdrawn(session: Session, delivery_ids: Iterable[int], *, now: dt.datetime) -> int:
    """The article was withdrawn: its deliveries not sent yet are not sent (a credit held is given back);
    one stuck while sending may have gone out, and counts as sent, unconfirmed. Returns how many failed."""
    dropped = 0
    for delivery_id in delivery_ids:
        claimed = rows_changed(
            session,
            update(PushDelivery)
            .where(PushDelivery.id == delivery_id, _claimable(now))
            .values(status=DeliveryStatus.FAILED, claimed_at=now, next_attempt_at=None)
            .execution_options(synchronize_session=False),
        )
        if not claimed:
            continue
        delivery = session.scalars(
            select(PushDelivery)
            .where(PushDelivery.id == delivery_id)
            .execution_options(populate_existing=True)
        ).one()
        if delivery.wechat == "sending":
            _deliver(delivery, "unconfirmed", now)
            continue
        if delivery.wechat == "retry":
            give_back_subscription_credit(session, delivery.user_id, ARTICLE)
        delivery.wechat = "withdrawn"
        delivery.last_error = WITHDRAWN_ERROR
        dropped += 1
    session.flush()
    return dropped


def finish_push_if_done(session: Session, push_id: int, *, now: dt.datetime) -> bool:
    """Mark the push finished once none of its deliveries waits or is being sent."""
    open_ = select(PushDelivery.id).where(
        PushDelivery.push_id == push_id,
        PushDelivery.status.in_([DeliveryStatus.WAITING, DeliveryStatus.SENDING]),
    )
    return (
        rows_changed(
            session,
            update(Push)
            .where(
                Push.id == push_id, Push.finished_at.is_(None), Push.planned_at.is_not(None), ~exists(open_)
            )
            .values(finished_at=now)
            .execution_options(synchronize_session=False),
        )
        == 1
    )


class SendBudget:
    """WeChat's rate limit: at most `per_second` subscribe messages in any second of the clock, counted in
    Redis so that every worker shares one budget (in this process, across its threads, without Redis). A send
    over the budget waits for the next second. A fixed window: two seconds' budgets may meet at their border,
    which stays within twice the rate for an instant."""

    KEY: Final = "qingpu:wechat:push-sends:{second}"
    _lock = threading.Lock()
    _local: dict[int, int] = {}  # noqa: RUF012  (shared by the process on purpose)

    def __init__(
        self,
        per_second: int,
        redis: Redis | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = max(per_second, 1)
        self._redis = redis
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        """Return once a send fits in the current second's budget."""
        while True:
            instant = self._clock()
            second = int(instant)
            if self._take(second) <= self.per_second:
                return
            self._sleep(max(second + 1 - instant, 0.001))

    def _take(self, second: int) -> int:
        if self._redis is not None:
            key = self.KEY.format(second=second)
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, 5)
            count, _ = pipe.execute()
            return int(count)
        with self._lock:
            for old in [s for s in self._local if s < second]:
                del self._local[old]
            self._local[second] = self._local.get(second, 0) + 1
            return self._local[second]


# --------------------------------------------------------------------------------------------- the relay


def relay_pushes(session: Session, *, now: dt.datetime, sends_per_second: int) -> int:
    """Queue again what a lost job or a killed worker left: pushes never planned, deliveries whose lease or
    retry delay ran out while waiting, and deliveries stuck in sending. Returns how many deliveries (and
    unplanned pushes) were queued; sending them again is safe, each is claimed once."""
    unplanned = list(
        session.scalars(
            select(Push.id)
            .where(Push.planned_at.is_(None), Push.created_at <= now - QUEUE_LEASE)
            .order_by(Push.id)
        )
    )
    for push_id in unplanned:
        enqueue_after_commit(session, PLAN_JOB, push_id, job_id=f"push-plan-{push_id}")
    due = session.execute(
        select(PushDelivery.push_id, PushDelivery.id)
        .where(
            ((PushDelivery.status == DeliveryStatus.WAITING) & (PushDelivery.next_attempt_at <= now))
            | ((PushDelivery.status == DeliveryStatus.WAITING) & PushDelivery.next_attempt_at.is_(None))
            | (
                (PushDelivery.status == DeliveryStatus.SENDING)
                & (PushDelivery.claimed_at <= now - STALE_SENDING)
            )
        )
        .order_by(PushDelivery.push_id, PushDelivery.id)
    ).all()
    by_push: dict[int, list[int]] = {}
    for push_id, delivery_id in due:
        by_push.setdefault(push_id, []).append(delivery_id)
    for push_id, ids in by_push.items():
        queue_waiting(session, push_id, now=now, sends_per_second=sends_per_second, ids=ids)
    return len(unplanned) + len(due)


# ------------------------------------------------------------------------------------ what the studio sees


@dataclass(frozen=True)
class PushCounts:
    waiting: int = 0  # waiting or being sent
    delivered: int = 0
    failed: int = 0
    wechat_sent: int = 0  # of the delivered, those whose subscribe message WeChat accepted

    @property
    def total(self) -> int:
        return self.waiting + self.delivered + self.failed


@dataclass(frozen=True)
class PushView:
    id: int
    article_id: int
    article_title: str
    audience: str  # in words
    created_by: str
    created_at: dt.datetime
    planned_at: dt.datetime | None
    finished_at: dt.datetime | None
    counts: PushCounts


def push_counts(session: Session, push_ids: list[int]) -> dict[int, PushCounts]:
    rows = session.execute(
        select(PushDelivery.push_id, PushDelivery.status, PushDelivery.wechat, func.count(PushDelivery.id))
        .where(PushDelivery.push_id.in_(push_ids))
        .group_by(PushDelivery.push_id, PushDelivery.status, PushDelivery.wechat)
    ).all()
    tally: dict[int, dict[str, int]] = {push_id: {} for push_id in push_ids}
    for push_id, status, wechat, count in rows:
        kind = "waiting" if status in {DeliveryStatus.WAITING, DeliveryStatus.SENDING} else status
        tally[push_id][kind] = tally[push_id].get(kind, 0) + count
        if status == DeliveryStatus.DELIVERED and wechat in {"sent", "unconfirmed"}:
            tally[push_id]["wechat_sent"] = tally[push_id].get("wechat_sent", 0) + count
    return {
        push_id: PushCounts(
            waiting=t.get("waiting", 0),
            delivered=t.get(DeliveryStatus.DELIVERED, 0),
            failed=t.get(DeliveryStatus.FAILED, 0),
            wechat_sent=t.get("wechat_sent", 0),
        )
        for push_id, t in tally.items()
    }


def list_pushes(
    session: Session, *, article_id: int | None = None, page: int = 1, per_page: int = 30
) -> Page[PushView]:
    """Pushes, newest first (of one article, when given), with their counts."""
    query = select(Push).order_by(Push.id.desc())
    if article_id is not None:
        query = query.where(Push.article_id == article_id)
    found = paginate(session, query, page, per_page)
    return Page(_views(session, found.items), found.page, found.per_page, found.total)


def get_push(session: Session, push_id: int) -> PushView:
    push = session.get(Push, push_id)
    if push is None:
        raise NotFound("没有这次推送")
    return _views(session, [push])[0]


def _views(session: Session, pushes: list[Push]) -> list[PushView]:
    ids = [p.id for p in pushes]
    counts = push_counts(session, ids)
    titles = dict(
        session.execute(
            select(Article.id, Article.title).where(Article.id.in_({p.article_id for p in pushes}))
        ).all()
    )
    creators = dict(
        session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.id.in_({p.created_by for p in pushes if p.created_by is not None})
            )
        ).all()
    )
    return [
        PushView(
            id=p.id,
            article_id=p.article_id,
            article_title=titles.get(p.article_id, ""),
            audience=describe_audience(session, p),
            created_by=creators.get(p.created_by, "") if p.created_by is not None else "",
            created_at=p.created_at,
            planned_at=p.planned_at,
            finished_at=p.finished_at,
            counts=counts[p.id],
        )
        for p in pushes
    ]


@dataclass(frozen=True)
class DeliveryView:
    id: int
    user_id: int
    status: str
    attempts: int
    reason: str  # why it failed, or why it waits again, in Chinese
    at: dt.datetime | None


def failure_reason(wechat: str, last_error: str) -> str:
    """Why a delivery failed (or is being retried), for the studio."""
    if wechat == "withdrawn" or last_error == WITHDRAWN_ERROR:
        return "文章已撤回，未再发送"
    if wechat == "refused":
        return "居民拒收或未授权此类订阅消息（站内消息已送达）"
    if wechat == "retry":
        return f"微信繁忙，稍后重试（{last_error}）"
    if wechat == "failed":
        return f"微信未能发送订阅消息：{last_error}（站内消息已送达）"
    return last_error


def push_deliveries(
    session: Session, push_id: int, *, status: str, page: int = 1, per_page: int = 50
) -> Page[DeliveryView]:
    """The push's deliveries in one state (failed, or waiting with a reason), oldest first."""
    wanted = [DeliveryStatus.WAITING, DeliveryStatus.SENDING] if status == "waiting" else [status]
    query = (
        select(PushDelivery)
        .where(PushDelivery.push_id == push_id, PushDelivery.status.in_(wanted))
        .order_by(PushDelivery.id)
    )
    found = paginate(session, query, page, per_page)
    return Page(
        [
            DeliveryView(
                id=d.id,
                user_id=d.user_id,
                status=d.status,
                attempts=d.attempts,
                reason=failure_reason(d.wechat, d.last_error),
                at=d.claimed_at,
            )
            for d in found.items
        ],
        found.page,
        found.per_page,
        found.total,
    )


@dataclass(frozen=True)
class AudienceChoices:
    """The push form's choices: every town, and the estates residents follow, each with how many follow."""

    towns: list[tuple[Town, int]]
    estates: list[tuple[Estate, str, int]]  # the estate, its town's name, its followers


def audience_choices(session: Session) -> AudienceChoices:
    town_followers = dict(
        session.execute(
            select(Estate.town_id, func.count(func.distinct(ResidentEstate.user_id)))
            .join(ResidentEstate, ResidentEstate.estate_id == Estate.id)
            .group_by(Estate.town_id)
        ).all()
    )
    towns = list(session.scalars(select(Town).order_by(Town.position)))
    estates = session.execute(
        select(Estate, Town.name, func.count(ResidentEstate.id))
        .join(ResidentEstate, ResidentEstate.estate_id == Estate.id)
        .join(Town, Town.id == Estate.town_id)
        .group_by(Estate.id, Town.name, Town.position)
        .order_by(Town.position, Estate.name)
    ).all()
    return AudienceChoices(
        towns=[(t, town_followers.get(t.id, 0)) for t in towns],
        estates=[(estate, town_name, count) for estate, town_name, count in estates],
    )


def article_to_push(session: Session, article_id: int) -> Article:
    """The article whose pushes a page shows."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound("没有这篇文章")
    return article
