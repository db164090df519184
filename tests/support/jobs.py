"""Job functions used by the queue tests (the RQ worker imports them by name), and how to start a worker."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import current_app
from redis import Redis
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from backend.config import PROJECT_ROOT
from backend.org.models import PropertyCompany
from backend.queue import SESSION_KEY, JobQueue, PendingJob


def record_company_name(company_id: int, key: str) -> None:
    """Copy a committed row's name into Redis, proving the worker sees what the request committed."""
    with current_app.extensions["db"].sessionmaker() as session:
        company = session.get(PropertyCompany, company_id)
        value = company.name if company is not None else "<missing>"
    Redis.from_url(current_app.config["QINGPU"].REDIS_URL).rpush(key, value)


FLASK = Path(sys.executable).with_name("flask")


def worker_env(engine: Engine, redis_url: str) -> dict[str, str]:
    """The environment of a `flask --app backend worker` child process on the test's database and Redis."""
    return {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(PROJECT_ROOT),
    }


@contextmanager
def jobs_recorded(connection: Connection, **options: Any) -> Iterator[tuple[Session, list[PendingJob]]]:
    """A session inside the test's transaction whose after-commit jobs are recorded instead of sent, with the
    list they are recorded in; `options` go to the Session (say, expire_on_commit=False as the app's)."""
    sent: list[PendingJob] = []
    queue = JobQueue()
    queue.inline_runner = sent.append
    session = Session(
        bind=connection, info={SESSION_KEY: queue}, join_transaction_mode="create_savepoint", **options
    )
    try:
        yield session, sent
    finally:
        session.close()
