"""How the jobs of a transaction leave: only when the transaction itself commits (a savepoint released inside
it is not its commit), and to Redis all together in one round trip, a job asked for twice under one id once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from redis.client import Pipeline
from rq import Queue
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from backend.queue import SESSION_KEY, JobQueue, PendingJob, enqueue_after_commit
from tests.support.jobs import jobs_recorded

JOB = "tests.support.jobs.record_company_name"


@pytest.fixture
def recorded(connection: Connection) -> Iterator[tuple[Session, list[PendingJob]]]:
    with jobs_recorded(connection) as recorded_jobs:
        yield recorded_jobs


def test_a_job_asked_for_inside_a_savepoint_leaves_when_the_transaction_commits(
    recorded: tuple[Session, list[PendingJob]],
) -> None:
    session, sent = recorded
    session.execute(text("SELECT 1"))
    with session.begin_nested():
        enqueue_after_commit(session, JOB, 1, "k", job_id="inside")
    assert (
        sent == []
    )  # the savepoint is released, the transaction still open: a worker could not see its rows
    enqueue_after_commit(session, JOB, 2, "k", job_id="after")
    session.commit()
    assert [job.job_id for job in sent] == ["inside", "after"]
    session.commit()
    assert len(sent) == 2


@pytest.fixture
def redis_queue(redis_url: str) -> Iterator[JobQueue]:
    queue = JobQueue(redis_url, f"test-sending-{uuid.uuid4().hex[:8]}")
    yield queue
    assert queue.rq is not None
    queue.rq.empty()
    queue.rq.delete(delete_jobs=True)


def test_the_jobs_of_a_transaction_go_to_redis_in_one_round_trip(
    connection: Connection, redis_queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert redis_queue.rq is not None
    redis_queue.rq.get_redis_server_version()  # asked once per process, before the first job
    trips: list[str] = []
    real_pipeline, real_command = Pipeline.execute, Redis.execute_command

    def pipeline(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        trips.append("pipeline")
        return real_pipeline(self, *args, **kwargs)

    def command(self: Redis, *args: Any, **kwargs: Any) -> Any:
        trips.append(str(args[0]))
        return real_command(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", pipeline)
    monkeypatch.setattr(Redis, "execute_command", command)
    tag = uuid.uuid4().hex[:8]
    with Session(
        bind=connection, info={SESSION_KEY: redis_queue}, join_transaction_mode="create_savepoint"
    ) as session:
        session.execute(text("SELECT 1"))
        for n in range(3):
            enqueue_after_commit(session, JOB, n, "k", job_id=f"{tag}-{n}")
        enqueue_after_commit(session, JOB, 9, "k", job_id=f"{tag}-1")  # asked again: the last one goes
        session.commit()
    monkeypatch.undo()
    assert trips == ["pipeline"]
    queue: Queue = redis_queue.rq
    assert queue.job_ids == [f"{tag}-0", f"{tag}-1", f"{tag}-2"]
    jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    assert [job.args for job in jobs if job is not None] == [(0, "k"), (9, "k"), (2, "k")]
    assert all(job is not None and job.retries_left == 3 for job in jobs)
