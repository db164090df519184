"""RQ jobs of messaging: thin wrappers that send one outbox row through WeChat.

A row is claimed ("sending") and committed before WeChat is called, so two jobs never send it together.
- Any failure before the request goes out (the database on a read, Redis under the access token, a bug)
  gives the claim back in a fresh session and re-raises: RQ's retry or the relay sends it at once. The
  gateway turns every failure after its request went out into a WeChatError, so any other exception from
  the send call means nothing was sent.
- Once WeChat accepts, "sent" is committed before anything else, retried in fresh sessions if the commit
  fails, and the job never raises after that, so RQ does not run it again.
The one window left opens when the send request leaves for WeChat and closes when "sent" is committed: the
whole WeChat call (up to the gateway's timeout, a few seconds when WeChat is slow) and the commit. WeChat
delivers a request it has received whatever then becomes of the sender, so a worker killed in that window
leaves the row "sending" and the relay sends it a second time after STALE_SENDING: the resident gets it
twice, once per kill landing in the window (tests/faults/test_worker_killed_mid_send.py kills a worker there
and sees two deliveries every time). A kill anywhere else costs no duplicate (before the send it only delays
the message by STALE_SENDING).
WeChat's own errors keep their outcomes: refused and failed are final, busy or unreachable is pending and
retried. A timeout waiting for WeChat's reply counts as unreachable, though WeChat may have taken the message.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from flask import current_app

from backend.config import get_config
from backend.db import Database, utcnow
from backend.messages.services import (
    claim_notification,
    finish_notification,
    outgoing_notification,
    release_notification,
)
from backend.wechat import WeChatError

log = logging.getLogger(__name__)

# A failed commit of "sent" is tried again after each of these pauses (seconds) before the row is left
# "sending" for the relay: enough to ride out a deadlock or a dropped connection.
RECORD_SENT_PAUSES = (0.1, 0.5)


def send_notification(notification_id: int) -> str:
    """Send one subscribe message; a retried or duplicated job finds it claimed or sent and does nothing."""
    database: Database = current_app.extensions["db"]
    claimed_at = utcnow()
    with database.sessionmaker() as session:
        claimed = claim_notification(session, notification_id, now=claimed_at)
        session.commit()
    if not claimed:
        return "already handled"
    try:
        gateway = current_app.extensions.get("wechat")
        with database.sessionmaker() as session:
            outgoing = outgoing_notification(session, notification_id, get_config().subscribe_templates)
        if gateway is None or outgoing is None:
            _finish(database, notification_id, "failed", "WeChat or its template is not configured")
            return "failed"
        gateway.send_subscribe_message(
            outgoing.openid, outgoing.template_id, outgoing.payload, page=outgoing.page
        )
    except WeChatError as exc:
        if exc.user_refused:
            outcome = "refused"
        elif exc.retryable:
            outcome = "pending"
        else:
            outcome = "failed"
        try:
            _finish(database, notification_id, outcome, f"{exc.errcode} {exc.errmsg}")
        except Exception:
            _release(database, notification_id, claimed_at, "the outcome could not be recorded")
            raise
        if outcome == "pending":
            raise  # RQ retries later; the relay catches it if retries run out
        log.warning("notification %s %s: errcode %s", notification_id, outcome, exc.errcode)
        return outcome
    except Exception as exc:
        _release(database, notification_id, claimed_at, type(exc).__name__)
        raise
    if not _record_sent(database, notification_id):
        return "sent, not recorded"
    return "sent"


def _finish(database: Database, notification_id: int, status: str, error: str) -> None:
    with database.sessionmaker() as session:
        finish_notification(session, notification_id, status, error)
        session.commit()


def _release(database: Database, notification_id: int, claimed_at: dt.datetime, reason: str) -> None:
    # A fresh session: the one that failed may be broken. If the database is down this fails too, and the
    # claim runs out after STALE_SENDING instead.
    try:
        with database.sessionmaker() as session:
            release_notification(session, notification_id, claimed_at=claimed_at)
            session.commit()
    except Exception as exc:
        log.error(
            "notification %s failed before sending (%s) and its claim could not be released (%s)",
            notification_id,
            reason,
            type(exc).__name__,
        )
        return
    log.warning(
        "notification %s failed before sending (%s); released for another try", notification_id, reason
    )


def _record_sent(database: Database, notification_id: int) -> bool:
    """Commit "sent" for a message WeChat accepted; never raises, so RQ never sends it again."""
    for pause in (*RECORD_SENT_PAUSES, None):
        try:
            _finish(database, notification_id, "sent", "")
            return True
        except Exception as exc:
            if pause is None:
                log.error(
                    "notification %s was sent but could not be recorded (%s); the relay will send it again",
                    notification_id,
                    type(exc).__name__,
                )
                return False
            time.sleep(pause)
    return False
