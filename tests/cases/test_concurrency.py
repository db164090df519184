"""Concurrent submissions, committed for real from many threads: distinct tracking numbers, one case per request id."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.services import ReportInput, submit_report
from backend.org.models import Estate
from backend.queue import SESSION_KEY, JobQueue
from tests.support.cleanup import purge_users

THREADS = 20


def concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported below, with the others
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


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
            )
            session.commit()
            return case.tracking_no, created

    try:
        results = concurrently(THREADS, file_report)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        numbers = [number for number, _created in results]
        assert len(set(numbers)) == THREADS

        storm = concurrently(8, lambda i: file_report(i, request_id=f"storm-{tag}", user_index=0))
        errors = [r for r in storm if isinstance(r, Exception)]
        assert not errors, errors
        assert len({number for number, _ in storm}) == 1
        assert sum(created for _, created in storm) == 1
    finally:
        purge_users(engine, user_ids)
