"""RQ jobs of pushing articles: list a push's recipients, and send one batch of its deliveries through WeChat."""

from __future__ import annotations

import logging

from flask import current_app

from backend.articles import pushes
from backend.clock import now
from backend.config import get_config
from backend.messages.services import ARTICLE
from backend.wechat import WeChatError

log = logging.getLogger(__name__)


def plan_push(push_id: int) -> int:
    """List the push's recipients; their send jobs are asked for by this job's commit."""
    with current_app.extensions["db"].sessionmaker() as session:
        added = pushes.plan_push(
            session, push_id, now=now(), sends_per_second=get_config().WECHAT_SENDS_PER_SECOND
        )
        session.commit()
    return added


def send_push_batch(push_id: int, first_id: int, last_id: int) -> str:
    """Deliver the push's deliveries with ids from first_id to last_id, one claim and one commit each.

    A transient WeChat error stops the batch and raises, so RQ runs the job again after its backoff (the
    queue's Retry): the rerun finds what it delivered claimed and sends only the rest. A duplicated job does
    the same. Sends wait for the shared per-second budget (WECHAT_SENDS_PER_SECOND)."""
    gateway = current_app.extensions.get("wechat")
    config = get_config()
    template_id = config.subscribe_templates.get(ARTICLE, "")
    subscribe = gateway is not None and bool(template_id)
    budget = pushes.SendBudget(config.WECHAT_SENDS_PER_SECOND, current_app.extensions["job_queue"].redis)
    with current_app.extensions["db"].sessionmaker() as session:
        letter = pushes.push_letter(session, push_id)
        ids = pushes.batch_deliveries(session, push_id, first_id, last_id) if letter else []
        session.commit()  # nothing is held while WeChat is called below
        if letter is None or not ids:
            return "nothing to do"
        if not letter.published:
            pushes.drop_withdrawn(session, ids, now=now())
            pushes.finish_push_if_done(session, push_id, now=now())
            session.commit()
            return "withdrawn"
        sent = 0
        for delivery_id in ids:
            claim = pushes.claim_delivery(session, delivery_id, letter, subscribe=subscribe, now=now())
            session.commit()  # the claim, with the in-app message and the credit it took
            if claim is None or not claim.send or gateway is None:
                continue
            budget.wait()
            try:
                gateway.send_subscribe_message(claim.openid, template_id, letter.subscribe, page=letter.page)
            except WeChatError as exc:
                outcome = pushes.record_send_error(session, claim, exc, now=now())
                session.commit()
                if outcome == "retry":
                    raise  # the rest of the batch waits for the retry; the relay catches it if retries run out
                log.warning("push %s delivery %s %s: errcode %s", push_id, delivery_id, outcome, exc.errcode)
                continue
            pushes.record_sent(session, claim, now=now())
            session.commit()
            sent += 1
        pushes.finish_push_if_done(session, push_id, now=now())
        session.commit()
    return f"sent {sent}"
