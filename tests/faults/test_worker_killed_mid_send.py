"""A worker killed (SIGKILL, with its work horse) while WeChat holds its send request: the resident still gets
the message, sent again once the claim has run out, and the test records whether that made it twice.

The request had reached WeChat, which delivers it whatever becomes of the worker: the row stays "sending" and
is sent again. So the window for a second delivery that backend/messages/jobs.py documents ("between WeChat's
reply and the commit of sent") opens earlier, when the request reaches WeChat, and lasts the whole call; a kill
inside it is expected to give two deliveries here. Never three, and never none."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from backend.messages.models import Notification
from backend.messages.services import STALE_SENDING
from tests.faults.residents import deliveries, filed_by, sign_in
from tests.support.processes import Processes, Web, start_worker, wait_until
from tests.support.wechat_standin import SUBSCRIBE_SEND, WeChatStandIn

# seconds the stand-in holds the send request, the worker being killed meanwhile; under the gateway's 5 s
# timeout, past which this would test a timeout instead
HOLD = 2.0


def test_a_worker_killed_while_wechat_holds_its_send_request_still_gets_the_message_to_the_resident(
    processes: Processes,
    database: Engine,
    service_env: dict[str, str],
    command: Callable[..., str],
    estate_id: int,
    wechat_standin: WeChatStandIn,
    record_property: Callable[[str, object], None],
) -> None:
    web = Web(processes, service_env)
    worker = start_worker(processes, service_env)
    web.wait_ready()
    resident = sign_in(web.base_url, wechat_standin, "killed-mid-send")
    resident.grant(1)

    wechat_standin.stall_next(SUBSCRIBE_SEND, HOLD)
    answer = resident.report(estate_id, "killed-mid-send")
    assert answer.status_code == 201, answer.text
    tracking_no = answer.json()["tracking_no"]
    wait_until(
        lambda: wechat_standin.calls_to(SUBSCRIBE_SEND) == 1,
        120,
        lambda: f"the worker's send request reaches WeChat\n{processes.logs()}",
    )
    held_since = time.monotonic()
    killed = worker.current
    killed.kill()  # the worker and its work horse, mid-request
    assert time.monotonic() - held_since < HOLD, "the worker was killed after WeChat answered"

    [notification] = filed_by(database, resident).notifications
    assert notification.status == "sending" and notification.attempts == 1  # the claim the dead worker held
    time.sleep(max(0.0, held_since + HOLD + 0.3 - time.monotonic()))  # WeChat finishes with the request
    from_the_dead_worker = deliveries(wechat_standin)[tracking_no]

    # Ten minutes later the claim has run out: moved back rather than waited for
    assert notification.claimed_at is not None
    with Session(database) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == notification.id)
            .values(claimed_at=notification.claimed_at - STALE_SENDING)
        )
        session.commit()
    relayed = command("notifications", "relay")  # cron's call, with its default --older-than
    assert "re-queued 1 notifications" in relayed

    def sent() -> Notification | None:
        [row] = filed_by(database, resident).notifications
        return row if row.status == "sent" else None

    final = wait_until(sent, 120, lambda: f"the restarted worker sends it\n{processes.logs()}")
    assert worker.current is not killed  # started again, as systemd does
    assert final.attempts == 2 and final.sent_at is not None
    time.sleep(0.5)  # a further duplicate still on its way would arrive now
    delivered = deliveries(wechat_standin)[tracking_no]
    record_property("deliveries", delivered)
    print(
        f"\nworker killed while WeChat held its request: the resident got the message {delivered} time(s),"
        f" {from_the_dead_worker} of them from the killed worker's request"
    )
    assert delivered in {1, 2}
    assert wechat_standin.calls_to(SUBSCRIBE_SEND) == 2
