"""WeChat's message push (/wechat/callback): the echo check, signatures, safe-mode AES, and a quick "success"."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, abort, current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from backend.config import get_config
from backend.queue import PendingJob

log = logging.getLogger(__name__)
wechat_bp = Blueprint("wechat", __name__, url_prefix="/wechat")
MAX_CLOCK_SKEW = 300  # seconds; older pushes are replays


def _config():  # noqa: ANN202
    config = get_config()
    if not (config.WECHAT_TOKEN and config.WECHAT_ENCODING_AES_KEY and config.WECHAT_APP_ID):
        abort(404)
    return config


def _fresh(timestamp: str) -> bool:
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False  # not a Unix time in seconds (and a thousand digits would overflow a float)
    return abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW


@wechat_bp.get("/callback")
def verify() -> Response:
    """The server check WeChat makes when the push URL is saved: echo `echostr` if the signature is ours."""
    config = _config()
    args = request.args
    try:
        check_signature(
            config.WECHAT_TOKEN, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        )
    except InvalidSignatureException:
        abort(403)
    # plain text: echostr is not signed, so it must never be served as a page a browser would run
    return Response(args.get("echostr", ""), mimetype="text/plain")


@wechat_bp.post("/callback")
def receive() -> Response:
    """Decrypt and check a pushed message, queue the bot's reply, and answer "success" at once."""
    config = _config()
    args = request.args
    timestamp, nonce, signature = (
        args.get("timestamp", ""),
        args.get("nonce", ""),
        args.get("msg_signature", ""),
    )
    if not _fresh(timestamp):
        abort(403)
    crypto = WeChatCrypto(config.WECHAT_TOKEN, config.WECHAT_ENCODING_AES_KEY, config.WECHAT_APP_ID)
    try:
        xml = crypto.decrypt_message(request.get_data(), signature, timestamp, nonce)
    except Exception:  # a wrong signature, another app's id, another key, or not even XML: not from WeChat
        abort(403)
    store = current_app.extensions["chat_store"]
    if not store.first_time(f"push:{signature}:{nonce}:{timestamp}", MAX_CLOCK_SKEW * 2):
        abort(403)  # the very same request again: a replay
    try:
        message = parse_message(xml)
        # WeChat's retries repeat MsgId; a push without one is told apart by sender and time, as WeChat advises
        key = (
            f"msg-{message.id}"
            if message.id
            else f"msg-{message.source}-{message.create_time.timestamp():.0f}"
        )
    except Exception:  # signed by WeChat yet not a message we can read: nothing to answer, no retry wanted
        log.warning("unreadable WeChat push ignored")
        return Response("success", mimetype="text/plain")
    if message.type == "text" and store.first_time(key, 3600):
        from backend.chat.jobs import reply_on_wechat

        try:
            current_app.extensions["job_queue"].send(
                PendingJob(reply_on_wechat, (message.source, message.content), job_id=f"wechat-{key}")
            )
        except Exception:
            store.forget(key)  # let WeChat's retry try again
            raise
    return Response("success", mimetype="text/plain")
