"""enqueue_after_commit: a job leaves only when its transaction commits, inline or through a real RQ worker."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from redis import Redis
from sqlalchemy import Connection, delete
from sqlalchemy.orm import Session

from backend.config import PROJECT_ROOT
from backend.org.models import PropertyCompany
from backend.queue import SESSION_KEY, JobQueue, PendingJob, enqueue_after_commit
from tests.support.jobs import FLASK, jobs_recorded, worker_env

calls: list[tuple] = []


def remember(*args: object) -> None:
    calls.append(args)


def explode(*_args: object) -> None:
    raise RuntimeError("job failed")


@pytest.fixture
def recorded(connection: Connection) -> tuple[Session, list[PendingJob]]:
    with jobs_recorded(connection) as recorded_jobs:
        yield recorded_jobs


def test_job_is_sent_once_after_commit_and_not_before(recorded: tuple[Session, list[PendingJob]]) -> None:
    session, sent = recorded
    session.add(PropertyCompany(name="队列测试物业"))
    enqueue_after_commit(session, remember, 1, job_id="job-1")
    session.flush()
    assert sent == []
    session.commit()
    assert [(j.func, j.args, j.job_id) for j in sent] == [(remember, (1,), "job-1")]
    session.commit()
    assert len(sent) == 1


def test_job_is_dropped_when_the_transaction_rolls_back(recorded: tuple[Session, list[PendingJob]]) -> None:
    session, sent = recorded
    enqueue_after_commit(session, remember, 2)
    session.rollback()
    session.commit()
    assert sent == []


def test_inline_mode_runs_the_job_after_commit_and_survives_its_failure(connection: Connection) -> None:
    calls.clear()
    session = Session(
        bind=connection, info={SESSION_KEY: JobQueue()}, join_transaction_mode="create_savepoint"
    )
    enqueue_after_commit(session, explode)
    enqueue_after_commit(session, remember, "after", "failure")
    assert calls == []
    session.commit()
    assert calls == [("after", "failure")]
    session.close()


def test_a_session_without_a_queue_is_refused(connection: Connection) -> None:
    with Session(bind=connection) as session, pytest.raises(RuntimeError):
        enqueue_after_commit(session, remember)


def test_real_rq_worker_sees_committed_rows_and_never_rolled_back_jobs(app, redis_url: str) -> None:
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    key = f"test:{queue_name}:seen"
    redis = Redis.from_url(redis_url)
    job_queue = JobQueue(redis_url, queue_name)
    engine = app.extensions["db"].engine
    name = f"真实队列物业{uuid.uuid4().hex[:6]}"
    try:
        with Session(engine, info={SESSION_KEY: job_queue}) as session:
            company = PropertyCompany(name=name)
            session.add(company)
            session.flush()
            enqueue_after_commit(session, "tests.support.jobs.record_company_name", company.id, key)
            session.commit()
            enqueue_after_commit(session, "tests.support.jobs.record_company_name", -1, key)
            session.rollback()
        assert job_queue.rq is not None and job_queue.rq.count == 1

        env = worker_env(engine, redis_url)
        worker = subprocess.run(
            [str(FLASK), "--app", "backend", "worker", "--burst", queue_name],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr
        assert [v.decode() for v in redis.lrange(key, 0, -1)] == [name], worker.stderr[-3000:]
        assert job_queue.rq.count == 0
    finally:
        redis.delete(key)
        with engine.begin() as conn:
            conn.execute(delete(PropertyCompany).where(PropertyCompany.name == name))
