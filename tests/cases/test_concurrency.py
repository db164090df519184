"""Concurrent submissions, committed for real from many threads: distinct tracking numbers, one case per request id."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CaseEvent, TrackingCounter
from backend.cases.services.filing import ReportInput, issue_tracking_no, submit_report
from backend.cases.services.life import transition
from backend.cases.services.reads import get_case
from backend.cases.workflow import Actor, IllegalTransition, Role
from backend.errors import Conflict
from backend.org.models import Estate
from backend.queue import SESSION_KEY, JobQueue
from backend.staff.services import create_staff
from backend.workcalendar import SHANGHAI
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently

THREADS = 20
# a day no other test files on, so the first submissions race to create its tracking counter
DAY = dt.datetime(2025, 3, 12, 10, 0, tzinfo=SHANGHAI)


def test_twenty_concurrent_reports_get_twenty_numbers_and_a_retry_storm_gets_one_case(app) -> None:
    engine = app.extensions["db"].engine
    queue = JobQueue()
    queue.inline_runner = lambda job: None
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        users = [User(openid=f"concurrency-{tag}-{i}", nickname="并发") for i in range(THREADS)]
        session.add_all(users)
        session.commit()
        user_ids = [u.id for u in users]
        estate_id = session.scalar(select(Estate.id).where(Estate.name == "新华联雅苑"))
        session.execute(delete(TrackingCounter).where(TrackingCounter.day == DAY.strftime("%Y%m%d")))
        session.commit()

    def file_report(i: int, request_id: str | None = None, user_index: int | None = None) -> tuple[str, bool]:
        with Session(engine, info={SESSION_KEY: queue}) as session:
            user = session.get(User, user_ids[i if user_index is None else user_index])
            case, created = submit_report(
                session,
                user,
                ReportInput(
                    description=f"并发测试第{i}条：楼顶有人搭建阳光房",
                    category="illegal_construction",
                    estate_id=estate_id,
                    client_request_id=request_id,
                ),
                now=DAY,
            )
            session.commit()
            return case.tracking_no, created

    try:
        results = concurrently(THREADS, file_report)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        numbers = [number for number, _created in results]
        assert sorted(numbers) == [f"QP20250312-{n:04d}" for n in range(1, THREADS + 1)]

        storm = concurrently(8, lambda i: file_report(i, request_id=f"storm-{tag}", user_index=0))
        errors = [r for r in storm if isinstance(r, Exception)]
        assert not errors, errors
        assert len({number for number, _ in storm}) == 1
        assert sum(created for _, created in storm) == 1
        # the storm's losers gave their numbers back: the day's numbers have no gap
        assert storm[0][0] == f"QP20250312-{THREADS + 1:04d}"
        with Session(engine) as session:
            day = DAY.strftime("%Y%m%d")
            assert (
                session.scalar(select(TrackingCounter.last).where(TrackingCounter.day == day)) == THREADS + 1
            )
    finally:
        purge_users(engine, user_ids)
        with engine.begin() as conn:
            conn.execute(delete(TrackingCounter).where(TrackingCounter.day == DAY.strftime("%Y%m%d")))


def test_the_first_numbers_of_a_day_are_issued_to_concurrent_transactions_without_deadlock(app) -> None:
    """The day's counter row does not exist yet: every transaction races to create it. (On MariaDB an
    UPDATE-then-INSERT took gap locks here and rolled most of them back as deadlock victims.)"""
    engine = app.extensions["db"].engine
    days = [DAY + dt.timedelta(days=n) for n in range(1, 4)]
    keys = [day.strftime("%Y%m%d") for day in days]

    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(delete(TrackingCounter).where(TrackingCounter.day.in_(keys)))

    clear()
    try:
        for day, key in zip(days, keys, strict=True):

            def number(i: int, day: dt.datetime = day) -> str:
                with Session(engine) as session:
                    issued = issue_tracking_no(session, day)
                    session.commit()
                    return issued

            results = concurrently(THREADS, number)
            errors = [r for r in results if isinstance(r, Exception)]
            assert not errors, errors
            assert sorted(results) == [f"QP{key}-{n:04d}" for n in range(1, THREADS + 1)]
    finally:
        clear()


SIGN_DAY = DAY + dt.timedelta(days=10)  # a day of its own, so its counter can be removed afterwards


def test_two_officers_signing_one_case_at_once_sign_it_once(app) -> None:
    """Both read the case as dispatched before either writes; the row lock makes the second see it signed."""
    engine = app.extensions["db"].engine
    queue = JobQueue()
    queue.inline_runner = lambda job: None
    with Session(engine, info={SESSION_KEY: queue}) as session:
        user = User(openid=f"concurrency-sign-{uuid.uuid4().hex[:8]}", nickname="并发")
        session.add(user)
        session.flush()
        estate_id = session.scalar(select(Estate.id).where(Estate.name == "新华联雅苑"))
        case, _ = submit_report(
            session,
            user,
            ReportInput(
                description="楼顶有人搭建阳光房，两个队员同时签收",
                category="illegal_construction",
                estate_id=estate_id,
            ),
            now=SIGN_DAY,
        )
        session.commit()
        user_id, tracking_no, squad_id = user.id, case.tracking_no, case.squad_id
    # SQLite's BEGIN IMMEDIATE already queues the second transaction before its first read
    read = threading.Barrier(1 if engine.dialect.name == "sqlite" else 2)

    def sign(i: int) -> str:
        with Session(engine, info={SESSION_KEY: queue}) as session:
            case = get_case(session, tracking_no)
            read.wait()  # both have read it as dispatched
            transition(session, case, "sign", Actor(Role.OFFICER, 9000 + i, f"队员{i}", squad_id=squad_id))
            session.commit()
            return "signed"

    try:
        results = concurrently(2, sign)
        assert sorted(map(type, results), key=str) == sorted([str, IllegalTransition], key=str), results
        with Session(engine) as session:
            events = session.scalars(
                select(CaseEvent.action)
                .join(Case)
                .where(Case.tracking_no == tracking_no, CaseEvent.action == "sign")
            ).all()
        assert events == ["sign"]
    finally:
        purge_users(engine, [user_id])
        with engine.begin() as conn:
            conn.execute(delete(TrackingCounter).where(TrackingCounter.day == SIGN_DAY.strftime("%Y%m%d")))


def test_the_same_username_created_at_once_gives_one_account_and_conflicts(app) -> None:
    """A double-submitted 新建账号 form: the check before the insert cannot see the other's uncommitted row."""
    engine = app.extensions["db"].engine
    username = f"race-{uuid.uuid4().hex[:8]}"

    def create(i: int) -> int:
        with Session(engine) as session:
            staff = create_staff(
                session, username=username, display_name="并发", role="supervisor", password="x" * 12
            )
            session.commit()
            return staff.id

    results = concurrently(4, create)
    created = [r for r in results if isinstance(r, int)]
    try:
        assert len(created) == 1, results
        assert all(
            isinstance(r, Conflict) and r.code == "username_taken" for r in results if r not in created
        )
    finally:
        purge_users(engine, [], created)
