"""RQ jobs of the chat channels: answer a WeChat message through the customer-service message API."""

from __future__ import annotations

import logging

from flask import current_app

from backend.accounts.services import get_or_create_user
from backend.chat.loader import current_nlu
from backend.chat.services import converse
from backend.clock import now

log = logging.getLogger(__name__)


def reply_on_wechat(openid: str, text: str) -> str:
    """Run the bot on a message pushed by WeChat and send its reply; the reply goes out once per message."""
    database = current_app.extensions["db"]
    gateway = current_app.extensions.get("wechat")
    config = current_app.config["QINGPU"]
    with database.sessionmaker() as session:
        user = get_or_create_user(session, openid)
        reply = converse(
            session,
            current_nlu(session),
            current_app.extensions["chat_store"],
            user,
            "wechat",
            text,
            daily_limit=config.REPORTS_PER_DAY,
            now=now(),
        )
        session.commit()
    # WeChat shows no buttons: the quick replies are listed, unless the text already lists them (相关问题)
    offered = [] if reply.quick_replies == reply.related_questions else reply.quick_replies
    message = reply.text + (("\n回复：" + " / ".join(offered)) if offered else "")
    if gateway is None:
        log.warning("WeChat is not configured: a chat reply was not sent")
        return "not sent"
    gateway.send_customer_text(openid, message)
    return "sent"
