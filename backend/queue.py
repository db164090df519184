"""Background jobs: RQ on Redis when REDIS_URL is set, in-process right after commit when it is not.

A job is requested inside a transaction with `enqueue_after_commit`; it is sent only once that
transaction commits, and dropped if it rolls back, so a worker never sees a row that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.queue import EnqueueData
from rq.utils import import_attribute
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

SESSION_KEY = "job_queue"
_PENDING_KEY = "pending_jobs"


@dataclass
class PendingJob:
    """A job asked for inside a transaction. `func` is the function, or its dotted path (as RQ takes it),
    which lets a service ask for a job without importing the module that defines it."""

    func: Callable[..., Any] | str
    args: tuple[Any, ...]
    job_id: str | None = None
    retries: int = 3
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.func if isinstance(self.func, str) else getattr(self.func, "__name__", repr(self.func))

    def run(self) -> Any:
        """Run the job here, in this process."""
        func = import_attribute(self.func) if isinstance(self.func, str) else self.func
        return func(*self.args)


class JobQueue:
    """Where committed jobs go: a Redis queue, or this process."""

    def __init__(self, redis_url: str = "", queue_name: str = "default") -> None:
        self.redis: Redis | None = Redis.from_url(redis_url) if redis_url else None
        self.queue_name = queue_name
        self.rq: Queue | None = Queue(queue_name, connection=self.redis) if self.redis is not None else None
        self.inline_runner: Callable[[PendingJob], None] = _run_inline

    @property
    def mode(self) -> str:
        return "redis" if self.rq is not None else "inline"

    def send(self, job: PendingJob) -> None:
        if self.rq is None:
            self.inline_runner(job)
            return
        # RQ takes a function or its dotted path; its type variable admits either, not their union
        self.rq.enqueue(job.func, *job.args, job_id=job.job_id, retry=_retry(job), **job.options)  # type: ignore[type-var]

    def send_all(self, jobs: Sequence[PendingJob]) -> None:
        """Send the jobs a transaction asked for, each logged if it cannot be: to Redis in one round trip
        (one pipeline for them all, where RQ's enqueue makes two for each), or run here one after another.
        Two jobs with one id are one job in Redis: the last asked for is sent, once."""
        if self.rq is None:
            for job in jobs:
                _send_logged(self, job)
            return
        last = {job.job_id or id(job): job for job in jobs}  # a dict keeps the first place of a repeated key
        batch = list(last.values())
        try:
            data = [_enqueue_data(job) for job in batch]
        except Exception:  # an option RQ's batch does not take: each job as RQ's enqueue takes it
            for job in batch:
                _send_logged(self, job)
            return
        try:
            self.rq.enqueue_many(data)
        except RedisError:
            # Redis is down or timed out: none of them went (the pipeline is one MULTI), and each is found
            # again as before, from what it was for (a notification's row by the relay, say)
            log.exception("could not send job %s after commit", ", ".join(job.name for job in batch))
        except Exception:  # something in one job (its arguments): the others still go
            for job in batch:
                _send_logged(self, job)

    def ping(self) -> bool:
        return self.redis.ping() if self.redis is not None else True


def _retry(job: PendingJob) -> Retry | None:
    return Retry(max=job.retries, interval=[10, 60, 300][: max(job.retries, 1)]) if job.retries else None


# the option RQ's enqueue() names differently from its batch's prepare_data(); the others share their names
_BATCH_NAMES = {"job_timeout": "timeout"}


def _enqueue_data(job: PendingJob) -> EnqueueData:
    options = {_BATCH_NAMES.get(name, name): value for name, value in job.options.items()}
    # as in send(): a function or its dotted path
    return Queue.prepare_data(job.func, job.args, job_id=job.job_id, retry=_retry(job), **options)  # type: ignore[type-var]


def _send_logged(queue: JobQueue, job: PendingJob) -> None:
    try:
        queue.send(job)
    except Exception:
        log.exception("could not send job %s after commit", job.name)


def _run_inline(job: PendingJob) -> None:
    try:
        job.run()
    except Exception:
        # The transaction that asked for the job has committed; a failing job must not undo the request.
        log.exception("in-process job %s failed", job.name)


def enqueue_after_commit(
    session: Session,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    retries: int = 3,
    **options: Any,
) -> None:
    """Run `func(*args)` in the background once `session`'s transaction commits; never if it rolls back."""
    if SESSION_KEY not in session.info:
        raise RuntimeError("this session has no job queue; create it from the app's Database")
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still drops the job
    session.info.setdefault(_PENDING_KEY, []).append(PendingJob(func, args, job_id, retries, options))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy calls that a commit too): the transaction is still open
    pending: list[PendingJob] = session.info.pop(_PENDING_KEY, [])
    queue: JobQueue | None = session.info.get(SESSION_KEY)
    if pending and queue is not None:
        queue.send_all(pending)


@event.listens_for(Session, "after_transaction_end")
def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING_KEY, None)
