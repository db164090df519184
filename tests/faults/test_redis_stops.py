"""Redis dies while residents report: every report is accepted and kept, and once Redis is back (empty, as a
Redis without persistence comes back) the relay and the workers send each resident's message exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import requests
from redis import Redis
from rq import Worker
from sqlalchemy import Engine

from tests.faults.residents import Filed, deliveries, filed_by, sign_in
from tests.support.processes import PrivateRedis, Processes, Web, start_worker, wait_until
from tests.support.wechat_standin import WeChatStandIn

BEFORE = 2  # reports filed while Redis is up: the worker is ready and the pipe works
DURING = 20  # reports filed while Redis is down


def test_reports_filed_while_redis_is_down_are_kept_and_each_message_is_sent_once_when_it_returns(
    processes: Processes,
    redis_server: PrivateRedis,
    database: Engine,
    service_env: dict[str, str],
    command: Callable[..., str],
    estate_id: int,
    wechat_standin: WeChatStandIn,
) -> None:
    web = Web(processes, service_env)
    start_worker(processes, service_env)
    web.wait_ready()
    resident = sign_in(web.base_url, wechat_standin, "redis-down")
    resident.grant(BEFORE + DURING)

    tracking: dict[str, str] = {}  # client_request_id -> tracking number
    for i in range(BEFORE):
        answer = resident.report(estate_id, f"before-redis-stops-{i}")
        assert answer.status_code == 201, answer.text
        tracking[f"before-redis-stops-{i}"] = answer.json()["tracking_no"]
    # sent, and the worker idle again: an idle worker waits for Redis and reconnects by itself (one busy with a
    # job when Redis goes away exits instead, and is started again, as deploy/'s unit does: see Supervised)
    queue_redis = Redis.from_url(redis_server.url())
    wait_until(
        lambda: (
            len(wechat_standin.subscribe_messages) == BEFORE
            and [w.get_state() for w in Worker.all(connection=queue_redis)] == ["idle"]
        ),
        120,
        lambda: f"the worker sends the first {BEFORE} messages\n{processes.logs()}",
    )
    queue_redis.close()

    redis_server.kill()
    for i in range(DURING):
        answer = resident.report(estate_id, f"while-redis-is-down-{i}")
        assert answer.status_code == 201, f"report {i} with Redis down: {answer.status_code} {answer.text}"
        tracking[f"while-redis-is-down-{i}"] = answer.json()["tracking_no"]
    health = requests.get(f"{web.base_url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["queue"]["status"] == "error"
    assert len(wechat_standin.subscribe_messages) == BEFORE  # nothing could be sent meanwhile

    redis_server.start()  # on the same port, empty: the jobs queued before it died are gone too
    time.sleep(1.1)  # the relay's --older-than counts whole seconds
    relayed = command("notifications", "relay", "--older-than", "1")
    assert f"re-queued {DURING} notifications" in relayed

    def all_sent() -> Filed | None:
        filed = filed_by(database, resident)
        sent = [n for n in filed.notifications if n.status == "sent"]
        return filed if len(sent) == BEFORE + DURING else None

    filed = wait_until(all_sent, 120, lambda: f"every notification is sent\n{processes.logs()}")
    # every report is there, each with its whole timeline, its in-app message and one notification
    assert {cid: case.tracking_no for cid, case in filed.cases.items()} == tracking
    for case in filed.cases.values():
        assert filed.events[case.id] == ["submit", "dispatch"], case.tracking_no
        assert filed.messages[case.id] == 1, case.tracking_no
    assert Counter(n.case_id for n in filed.notifications) == Counter(c.id for c in filed.cases.values())
    # each claimed once: no job ran twice, and the relay queued each row once
    assert [n.attempts for n in filed.notifications] == [1] * (BEFORE + DURING)
    # and the resident got each message exactly once
    time.sleep(0.5)  # a duplicate still on its way would arrive now
    assert deliveries(wechat_standin) == dict.fromkeys(tracking.values(), 1)
