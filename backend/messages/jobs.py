"""RQ jobs of messaging: thin wrappers that send one outbox row through WeChat."""

from __future__ import annotations

import logging

from flask import current_app

from backend.accounts.models import User
from backend.config import get_config
from backend.messages.models import Notification
from backend.messages.services import claim_notification, finish_notification
from backend.wechat import WeChatError

log = logging.getLogger(__name__)


def send_notification(notification_id: int) -> str:
    """Send one subscribe message; a retried or duplicated job finds it claimed or sent and does nothing."""
    database = current_app.extensions["db"]
    gateway = current_app.extensions.get("wechat")
    templates = get_config().subscribe_templates
    with database.sessionmaker() as session:
        claimed = claim_notification(session, notification_id)
        session.commit()
        if not claimed:
            return "already handled"
        notification = session.get(Notification, notification_id)
        user = session.get(User, notification.user_id)
        template_id = templates.get(notification.kind)
        if gateway is None or not template_id or user is None:
            finish_notification(session, notification, "failed", "WeChat or its template is not configured")
            session.commit()
            return "failed"
        try:
            gateway.send_subscribe_message(
                user.openid, template_id, notification.payload, page=notification.page or None
            )
        except WeChatError as exc:
            if exc.user_refused:
                outcome = "refused"
            elif exc.retryable:
                outcome = "pending"
            else:
                outcome = "failed"
            finish_notification(session, notification, outcome, f"{exc.errcode} {exc.errmsg}")
            session.commit()
            if outcome == "pending":
                raise  # RQ retries later; the relay catches it if retries run out
            log.warning("notification %s %s: errcode %s", notification_id, outcome, exc.errcode)
            return outcome
        finish_notification(session, notification, "sent")
        session.commit()
        return "sent"
