"""Pushing an article: exactly the audience that wants it, each resident once, sent in batches by jobs that
survive a failure mid-batch, a refusal, a killed worker and a withdrawn article; credits used only by sends
that went out."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from redis import Redis
from rq.utils import import_attribute
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.articles import jobs as push_jobs
from backend.articles.models import Article, ArticleEvent, DeliveryStatus, Push, PushDelivery
from backend.articles.preferences import set_preferences
from backend.articles.pushes import (
    MAX_ATTEMPTS,
    PLAN_JOB,
    SEND_JOB,
    PushTarget,
    SendBudget,
    claim_delivery,
    create_push,
    get_push,
    plan_push,
    push_letter,
)
from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.clock import MovableClock
from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.messages.models import Message, SubscriptionCredit
from backend.messages.services import add_subscription_credit
from backend.org.models import Estate, Town
from backend.queue import PendingJob
from backend.staff.services import create_staff, staff_actor
from backend.wechat import WeChatError
from tests.support.accounts import make_resident
from tests.support.wechat_standin import SUBSCRIBE_SEND, WeChatStandIn

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def push_app(make_app, wechat_standin: WeChatStandIn) -> Flask:
    """The app with WeChat and the article template configured, talking to the local stand-in; jobs in-process
    (recorded by `jobs`, run by the test), even when the suite runs against Redis."""
    return make_app(
        REDIS_URL="",
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
        WECHAT_TEMPLATE_ARTICLE="tmpl-article",
        WECHAT_SENDS_PER_SECOND=1000,
    )


@pytest.fixture
def jobs(push_app: Flask) -> list[PendingJob]:
    """The jobs asked for by every commit in push_app, recorded instead of run: the test runs them."""
    recorded: list[PendingJob] = []
    push_app.extensions["job_queue"].inline_runner = recorded.append
    return recorded


@pytest.fixture
def db(push_app: Flask, jobs: list[PendingJob]) -> Iterator[Session]:
    session = push_app.extensions["db"].sessionmaker()
    yield session
    session.close()


def estate_id(db: Session, name: str) -> int:
    return db.scalar(select(Estate.id).where(Estate.name == name))


def resident(
    db: Session,
    name: str,
    *estates: str,
    topics: tuple[str, ...] = (),
    pushes: bool = True,
    credits: int = 0,
    chose: bool = True,
) -> User:
    user, _ = make_resident(db, name)
    if chose:
        set_preferences(
            db,
            user.id,
            pushes=pushes,
            topics=list(topics),
            estate_ids=[estate_id(db, e) for e in estates],
            now=NOW,
        )
    for _ in range(credits):
        add_subscription_credit(db, user.id, "article")
    return user


def an_article(
    db: Session, *, status: str = "published", categories: tuple[str, ...] = ("illegal_construction",)
):
    article = Article(
        slug=f"push-{uuid.uuid4().hex[:12]}",
        title="楼顶搭阳光房，为什么会被拆？",
        summary="违法搭建的认定和拆除",
        body="正文",
        categories=list(categories),
        status=status,
        published_at=NOW if status == "published" else None,
    )
    db.add(article)
    db.flush()
    return article


def an_editor(db: Session) -> Actor:
    staff = create_staff(
        db, username=f"ed{uuid.uuid4().hex[:8]}", display_name="工作室编辑", role="editor", password="x" * 12
    )
    return staff_actor(staff)


def pushed(db: Session, article: Article, target: PushTarget) -> Push:
    push = create_push(db, an_editor(db), article.id, target, now=NOW)
    db.commit()
    return push


def to_estate(db: Session, name: str = "康虹花园") -> PushTarget:
    return PushTarget("estate", estate_id=estate_id(db, name))


def run(app: Flask, job: PendingJob):
    with app.app_context():
        return job.run()


def take(jobs: list[PendingJob], path: str) -> list[PendingJob]:
    """The recorded jobs of one kind, removed from the record."""
    found = [j for j in jobs if j.func == path]
    jobs[:] = [j for j in jobs if j.func != path]
    return found


def plan(app: Flask, jobs: list[PendingJob]) -> list[PendingJob]:
    """Run the recorded planning jobs; the send jobs they asked for."""
    for job in take(jobs, PLAN_JOB):
        run(app, job)
    return take(jobs, SEND_JOB)


def deliveries(db: Session, push: Push) -> dict[int, PushDelivery]:
    return {
        d.user_id: d
        for d in db.scalars(
            select(PushDelivery)
            .where(PushDelivery.push_id == push.id)
            .execution_options(populate_existing=True)
        )
    }


def credits(db: Session, user: User) -> int:
    db.expire_all()
    return (
        db.scalar(
            select(SubscriptionCredit.credits).where(
                SubscriptionCredit.user_id == user.id, SubscriptionCredit.kind == "article"
            )
        )
        or 0
    )


def messages_of(db: Session, user: User) -> list[Message]:
    return list(db.scalars(select(Message).where(Message.user_id == user.id)))


def failing_send(monkeypatch, app: Flask, standin: WeChatStandIn, *, call: int, errcode: int) -> None:
    """The stand-in answers `errcode` to the `call`-th subscribe message of this test (and only that one)."""
    gateway = app.extensions["wechat"]
    real = gateway.send_subscribe_message
    count = {"n": 0}

    def send(openid: str, template_id: str, data: dict[str, str], page: str | None = None) -> None:
        count["n"] += 1
        if count["n"] == call:
            standin.fail_next(SUBSCRIBE_SEND, errcode)
        real(openid, template_id, data, page=page)

    monkeypatch.setattr(gateway, "send_subscribe_message", send)


# ----------------------------------------------------------------------------------------------- planning


def test_planning_picks_exactly_the_residents_who_want_it(db: Session) -> None:
    want = resident(db, "pwant", "康虹花园")  # every topic
    topic = resident(db, "ptopic", "徐泾北城招商悦庭", "康虹花园", topics=("illegal_construction",))
    other_topic = resident(db, "pothertopic", "康虹花园", topics=("garbage_sorting", "group_rental"))
    off = resident(db, "poff", "康虹花园", pushes=False)
    same_town = resident(db, "psametown", "徐泾北城招商悦庭")
    other_town = resident(db, "pothertown", "新青浦花苑")
    no_estate = resident(db, "pnoestate")
    never_chose = resident(db, "pneverchose", chose=False)
    mine = {u.id for u in (want, topic, other_topic, off, same_town, other_town, no_estate, never_chose)}
    article = an_article(db)

    estate_push = pushed(db, article, to_estate(db))
    assert plan_push(db, estate_push.id, now=NOW, sends_per_second=20) == 2
    assert set(deliveries(db, estate_push)) == {want.id, topic.id}
    assert plan_push(db, estate_push.id, now=NOW, sends_per_second=20) == 0  # planning twice adds nobody
    assert len(deliveries(db, estate_push)) == 2

    xujing = db.scalar(select(Town.id).where(Town.name == "徐泾镇"))
    another = an_article(db, categories=("illegal_construction", "garbage_sorting"))
    town_push = pushed(db, another, PushTarget("town", town_id=xujing))
    plan_push(db, town_push.id, now=NOW, sends_per_second=20)
    assert set(deliveries(db, town_push)) == {want.id, topic.id, other_topic.id, same_town.id}

    everyone = pushed(db, an_article(db), PushTarget("all"))
    plan_push(db, everyone.id, now=NOW, sends_per_second=20)
    reached = set(deliveries(db, everyone)) & mine
    assert reached == {want.id, topic.id, same_town.id, other_town.id, no_estate.id, never_chose.id}

    # the same article to the whole town later: only those who have not had it yet
    again = pushed(db, article, PushTarget("town", town_id=xujing))
    assert plan_push(db, again.id, now=NOW, sends_per_second=20) == 1
    assert set(deliveries(db, again)) == {same_town.id}


def test_creating_a_push_is_the_editors_for_a_published_article_and_on_the_record(db: Session) -> None:
    article = an_article(db)
    officer = Actor(Role.OFFICER, 1, "队员", squad_id=1)
    with pytest.raises(Forbidden):
        create_push(db, officer, article.id, PushTarget("all"), now=NOW)
    editor = an_editor(db)
    with pytest.raises(Conflict):
        create_push(db, editor, an_article(db, status="draft").id, PushTarget("all"), now=NOW)
    for target, field in [
        (PushTarget("estate"), "estate_id"),
        (PushTarget("estate", estate_id=2**31 - 1), "estate_id"),
        (PushTarget("town"), "town_id"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            create_push(db, editor, article.id, target, now=NOW)
        assert refused.value.errors[0].field == field
    assert db.scalar(select(func.count(Push.id)).where(Push.article_id == article.id)) == 0

    push = create_push(db, editor, article.id, to_estate(db), now=NOW, ip="10.0.0.8")
    event = db.scalar(select(ArticleEvent).where(ArticleEvent.article_id == article.id))
    assert (event.action, event.note, event.data["push_id"]) == ("push", "推送给康虹花园（徐泾镇）", push.id)
    entry = db.scalar(
        select(AuditEntry).where(AuditEntry.action == "article.push", AuditEntry.target_id == str(push.id))
    )
    assert entry is not None and entry.target_type == "push" and entry.ip == "10.0.0.8"


# ------------------------------------------------------------------------------------------------ sending


def test_a_push_to_an_estate_reaches_exactly_its_residents_once_when_a_batch_fails_midway_and_is_retried(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn, monkeypatch
) -> None:
    residents = [resident(db, f"pmid{i}", "康虹花园", credits=1) for i in range(5)]
    elsewhere = resident(db, "pmidother", "新青浦花苑", credits=1)
    article = an_article(db)
    push = pushed(db, article, to_estate(db))
    assert [j.func for j in jobs] == [PLAN_JOB]

    batches = plan(push_app, jobs)
    assert len(batches) == 1 and batches[0].retries > 0  # RQ retries it with backoff
    failing_send(monkeypatch, push_app, wechat_standin, call=3, errcode=-1)  # WeChat busy on the third
    with pytest.raises(WeChatError):
        run(push_app, batches[0])

    state = deliveries(db, push)
    assert [state[u.id].status for u in residents] == ["delivered"] * 2 + ["waiting"] * 3
    assert (state[residents[2].id].wechat, state[residents[2].id].attempts) == ("retry", 1)
    assert state[residents[2].id].last_error.startswith("-1 ")
    assert len(wechat_standin.subscribe_messages) == 2

    assert run(push_app, batches[0]) == "sent 3"  # RQ's retry: the rest of the batch, nobody twice
    assert run(push_app, batches[0]) == "nothing to do"  # a duplicated job
    openids = sorted(m["touser"] for m in wechat_standin.subscribe_messages)
    assert openids == sorted(u.openid for u in residents)
    message = wechat_standin.subscribe_messages[0]
    assert message["template_id"] == "tmpl-article"
    assert message["page"] == f"pages/articles/detail?id={article.id}"
    assert message["data"]["thing3"]["value"] == "城管社区工作室"
    for user in residents:
        assert [m.title for m in messages_of(db, user)] == ["普法：楼顶搭阳光房，为什么会被拆？"]
        assert credits(db, user) == 0
    assert messages_of(db, elsewhere) == [] and credits(db, elsewhere) == 1
    state = deliveries(db, push)
    assert {(d.status, d.wechat) for d in state.values()} == {("delivered", "sent")}
    assert state[residents[2].id].attempts == 2
    counts = get_push(db, push.id).counts
    assert (counts.delivered, counts.waiting, counts.failed, counts.wechat_sent) == (5, 0, 0, 5)
    assert get_push(db, push.id).finished_at is not None


def test_a_twin_job_that_read_its_batch_before_sends_nothing_twice(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn, monkeypatch
) -> None:
    import backend.articles.pushes as pushes

    users = [resident(db, f"ptwin{i}", "康虹花园", credits=2) for i in range(3)]
    push = pushed(db, an_article(db), to_estate(db))
    (batch,) = plan(push_app, jobs)
    read_before = pushes.batch_deliveries(db, *batch.args)
    db.commit()
    assert run(push_app, batch) == "sent 3"  # the twin, faster
    monkeypatch.setattr(pushes, "batch_deliveries", lambda *_args: read_before)
    assert run(push_app, batch) == "sent 0"  # every claim finds its delivery done
    assert len(wechat_standin.subscribe_messages) == 3
    assert [len(messages_of(db, u)) for u in users] == [1, 1, 1]
    assert [credits(db, u) for u in users] == [1, 1, 1]
    assert {(d.status, d.wechat, d.attempts) for d in deliveries(db, push).values()} == {
        ("delivered", "sent", 1)
    }
    letter = push_letter(db, push.id)
    later = NOW + dt.timedelta(days=1)
    assert all(claim_delivery(db, d, letter, subscribe=True, now=later) is None for d in read_before)


def test_credits_are_used_only_by_sends_that_went_out(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn, monkeypatch
) -> None:
    two = resident(db, "pcredtwo", "康虹花园", credits=2)
    none = resident(db, "pcrednone", "康虹花园")
    doomed = resident(db, "pcreddoomed", "康虹花园", credits=1)
    push = pushed(db, an_article(db), to_estate(db))
    (batch,) = plan(push_app, jobs)
    failing_send(monkeypatch, push_app, wechat_standin, call=2, errcode=47003)  # refused for good
    assert run(push_app, batch) == "sent 1"

    state = deliveries(db, push)
    assert (state[two.id].status, state[two.id].wechat, credits(db, two)) == ("delivered", "sent", 1)
    assert (state[none.id].status, state[none.id].wechat, credits(db, none)) == ("delivered", "no_credit", 0)
    assert (state[doomed.id].status, state[doomed.id].wechat) == ("failed", "failed")
    assert state[doomed.id].last_error.startswith("47003")
    assert credits(db, doomed) == 1  # given back: it did not go out
    for user in (two, none, doomed):
        assert len(messages_of(db, user)) == 1  # the in-app message reaches everyone
    assert [m["touser"] for m in wechat_standin.subscribe_messages] == [two.openid]


def test_a_resident_who_refused_is_recorded_and_not_tried_again(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn
) -> None:
    refuser = resident(db, "prefuser", "康虹花园", credits=1)
    push = pushed(db, an_article(db), to_estate(db))
    (batch,) = plan(push_app, jobs)
    wechat_standin.fail_next(SUBSCRIBE_SEND, 43101)
    assert run(push_app, batch) == "sent 0"  # no retry asked for
    delivery = deliveries(db, push)[refuser.id]
    assert (delivery.status, delivery.wechat, delivery.attempts) == ("failed", "refused", 1)
    assert delivery.last_error.startswith("43101")
    assert credits(db, refuser) == 1 and len(messages_of(db, refuser)) == 1
    assert run(push_app, batch) == "nothing to do"
    push_app.extensions["clock"] = MovableClock(NOW + dt.timedelta(hours=2))
    result = push_app.test_cli_runner().invoke(args=["notifications", "relay"])
    assert "re-queued 0 article deliveries" in result.output, result.output
    assert wechat_standin.calls_to(SUBSCRIBE_SEND) == 1
    view = get_push(db, push.id)
    assert (view.counts.delivered, view.counts.failed) == (0, 1)


def test_a_wechat_busy_through_every_attempt_fails_the_delivery_and_gives_the_credit_back(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn
) -> None:
    user = resident(db, "pbusy", "康虹花园", credits=1)
    push = pushed(db, an_article(db), to_estate(db))
    (batch,) = plan(push_app, jobs)
    wechat_standin.fail_next(SUBSCRIBE_SEND, 45009, times=MAX_ATTEMPTS)
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(WeChatError):
            run(push_app, batch)
        assert deliveries(db, push)[user.id].status == "waiting"
    assert run(push_app, batch) == "sent 0"
    delivery = deliveries(db, push)[user.id]
    assert (delivery.status, delivery.wechat, delivery.attempts) == ("failed", "failed", MAX_ATTEMPTS)
    assert credits(db, user) == 1 and len(messages_of(db, user)) == 1
    assert wechat_standin.subscribe_messages == []


def test_a_lost_job_and_a_worker_killed_mid_send_are_relayed_and_nothing_goes_twice(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn
) -> None:
    first, second, third = (resident(db, f"pkill{i}", "康虹花园", credits=1) for i in range(3))
    push = pushed(db, an_article(db), to_estate(db))
    plan(push_app, jobs)  # the send job is lost (Redis dropped it)
    # a worker claimed the first delivery, took its credit and was killed while WeChat was being called
    letter = push_letter(db, push.id)
    killed_at = NOW - dt.timedelta(minutes=30)
    claim = claim_delivery(db, deliveries(db, push)[first.id].id, letter, subscribe=True, now=killed_at)
    db.commit()
    assert claim is not None and claim.send

    push_app.extensions["clock"] = MovableClock(NOW + dt.timedelta(minutes=30))  # the leases ran out
    result = push_app.test_cli_runner().invoke(args=["notifications", "relay"])
    assert result.exit_code == 0, result.output
    assert "re-queued 3 article deliveries" in result.output
    for job in take(jobs, SEND_JOB):
        run(push_app, job)

    sent_to = sorted(m["touser"] for m in wechat_standin.subscribe_messages)
    assert sent_to == sorted([second.openid, third.openid])
    state = deliveries(db, push)
    # the first may have reached WeChat before the worker died: it is not sent again, nor its message written again
    assert (state[first.id].status, state[first.id].wechat) == ("delivered", "unconfirmed")
    assert {state[u.id].wechat for u in (second, third)} == {"sent"}
    assert [len(messages_of(db, u)) for u in (first, second, third)] == [1, 1, 1]
    assert [credits(db, u) for u in (first, second, third)] == [0, 0, 0]
    assert get_push(db, push.id).finished_at is not None
    again = push_app.test_cli_runner().invoke(args=["notifications", "relay"])
    assert "re-queued 0 article deliveries" in again.output


def test_a_push_never_planned_is_planned_by_the_relay(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn
) -> None:
    user = resident(db, "punplanned", "康虹花园")
    push = pushed(db, an_article(db), to_estate(db))
    jobs.clear()  # the planning job is lost
    push_app.extensions["clock"] = MovableClock(NOW + dt.timedelta(minutes=30))
    push_app.test_cli_runner().invoke(args=["notifications", "relay"])
    for job in plan(push_app, jobs):
        assert run(push_app, job) == "sent 0"  # no credit: the in-app message only
    delivery = deliveries(db, push)[user.id]
    assert (delivery.status, delivery.wechat) == ("delivered", "no_credit")
    assert len(messages_of(db, user)) == 1


def test_a_withdrawn_article_is_not_sent(
    push_app: Flask, db: Session, jobs: list[PendingJob], wechat_standin: WeChatStandIn
) -> None:
    user = resident(db, "pwithdrawn", "康虹花园", credits=1)
    article = an_article(db)
    push = pushed(db, article, to_estate(db))
    (batch,) = plan(push_app, jobs)
    article.status = "withdrawn"
    db.commit()
    assert run(push_app, batch) == "withdrawn"
    delivery = deliveries(db, push)[user.id]
    assert (delivery.status, delivery.wechat) == ("failed", "withdrawn")
    assert messages_of(db, user) == [] and credits(db, user) == 1
    assert wechat_standin.subscribe_messages == []
    assert get_push(db, push.id).finished_at is not None


def test_batches_hold_at_most_the_batch_size(
    push_app: Flask, db: Session, jobs: list[PendingJob], monkeypatch
) -> None:
    import backend.articles.pushes as pushes

    monkeypatch.setattr(pushes, "BATCH_SIZE", 2)
    users = [resident(db, f"pbatch{i}", "康虹花园") for i in range(5)]
    push = pushed(db, an_article(db), to_estate(db))
    batches = plan(push_app, jobs)
    assert [len(range(j.args[1], j.args[2] + 1)) <= 2 for j in batches] == [True, True, True]
    assert len({j.job_id for j in batches}) == 3
    assert [run(push_app, j) for j in batches] == ["sent 0"] * 3
    assert {d.status for d in deliveries(db, push).values()} == {DeliveryStatus.DELIVERED}
    assert all(len(messages_of(db, u)) == 1 for u in users)


# ---------------------------------------------------------------------------------------- the rate limit


def test_the_send_budget_spreads_sends_over_seconds() -> None:
    clock = [1000.25]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    budget = SendBudget(3, clock=lambda: clock[0], sleep=sleep)
    seconds = []
    for _ in range(7):
        budget.wait()
        seconds.append(int(clock[0]))
    assert seconds == [1000, 1000, 1000, 1001, 1001, 1001, 1002]
    assert slept == [pytest.approx(0.75), pytest.approx(1.0)]


@pytest.mark.needs_redis
def test_the_send_budget_is_shared_through_redis(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    second = 2_000_000_000 + int(uuid.uuid4().int % 1_000_000)
    clock = [float(second)]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    workers = [SendBudget(2, redis, clock=lambda: clock[0], sleep=sleep) for _ in range(2)]
    for worker in (*workers, *workers):  # two workers, two sends each: the second second is needed
        worker.wait()
    assert int(clock[0]) == second + 1


def test_the_jobs_asked_for_by_their_paths_are_these() -> None:
    assert import_attribute(PLAN_JOB) is push_jobs.plan_push
    assert import_attribute(SEND_JOB) is push_jobs.send_push_batch
