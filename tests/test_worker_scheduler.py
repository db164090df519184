"""The worker runs RQ's scheduler, so a retry asked for with a delay runs once the delay is over."""

from __future__ import annotations

import math
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import rq
from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

from backend.config import PROJECT_ROOT
from backend.worker import AppWorker
from tests.support.jobs import FLASK, worker_env


def fail_once(key: str) -> str:
    """A job for the real worker below (imported by name): notes the time of each try, fails the first."""
    redis = Redis.from_url(current_app.config["QINGPU"].REDIS_URL)
    tries = redis.rpush(key, repr(time.time()))
    if tries == 1:
        raise RuntimeError("the first try fails")
    return "done"


@pytest.fixture
def captured_work(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What `AppWorker.work` hands to RQ's loop, which is not entered (nor the bot loaded, nor Redis dialled:
    RQ names its connection in Redis when a worker is built)."""
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(rq.Worker, "_set_ip_address", lambda self, connection: None)

    def work(self: rq.Worker, *args: object, **kwargs: object) -> bool:
        calls.append(kwargs)
        return False

    monkeypatch.setattr(rq.Worker, "work", work)
    monkeypatch.setattr("backend.chat.loader.prepare_for_fork", lambda app: None)
    return calls


def test_the_worker_command_starts_the_scheduler(make_app, captured_work: list[dict[str, object]]) -> None:
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert len(captured_work) == 1
    assert captured_work[0]["with_scheduler"] is True
    assert captured_work[0]["burst"] is True


def test_an_app_worker_schedules_even_when_rq_worker_says_not_to(
    make_app, captured_work: list[dict[str, object]]
) -> None:
    app = make_app()
    worker = AppWorker(["default"], connection=Redis.from_url("redis://127.0.0.1:1/0"), app=app)
    worker.work(with_scheduler=False)  # what `rq worker -w backend.worker.AppWorker` passes by default
    assert captured_work == [{"with_scheduler": True}]


def _wait_for(job: Job, deadline: float) -> str:
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            return status
        time.sleep(0.2)
    return job.get_status(refresh=True)


def test_a_delayed_retry_runs_under_the_real_worker(app, redis_url: str, tmp_path: Path) -> None:
    queue_name = f"test-sched-{uuid.uuid4().hex[:8]}"
    key = f"test:{queue_name}:tries"
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=redis)
    job = queue.enqueue(
        "tests.test_worker_scheduler.fail_once",
        key,
        job_id=f"{queue_name}-job",
        retry=Retry(max=2, interval=1),
    )
    engine = app.extensions["db"].engine
    env = worker_env(engine, redis_url)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        # not --burst: a burst worker moves due jobs once, at its start, and would quit before the retry is due
        worker = subprocess.Popen(
            [str(FLASK), "--app", "backend", "worker", queue_name],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        status = _wait_for(job, time.monotonic() + 60)  # the worker loads the bot first
        output = log_path.read_text()[-3000:]
        assert status == JobStatus.FINISHED, output
        tries = [float(t) for t in redis.lrange(key, 0, -1)]
        assert len(tries) == 2, output
        # run by the scheduler once its second had come, not straight away: RQ files a retry under the whole
        # second it is due (due 31.51 s is filed as 31), so it may run up to a second before the interval ends
        assert math.floor(tries[0] + 1.0) <= tries[1] < tries[0] + 10.0, output
        assert job.return_value(refresh=True) == "done"
        assert redis.zcard(f"rq:scheduled:{queue_name}") == 0
    finally:
        worker.send_signal(signal.SIGTERM)  # a warm shutdown: the scheduler lets go of its lock
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        lock_after_stop = redis.get(f"rq:scheduler-lock:{queue_name}")
        redis.delete(key)
        for leftover in redis.scan_iter(f"rq:*{queue_name}*"):
            redis.delete(leftover)
    assert worker.returncode == 0, log_path.read_text()[-3000:]
    assert lock_after_stop is None
