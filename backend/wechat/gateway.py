"""WeChatGateway: login codes, the shared access token and messages, the only code that calls WeChat's servers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import requests
from redis import Redis
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from backend.wechat.client import (
    StableTokenClient,
    redact_urllib3_logs,
    redis_token_lock,
    thread_token_lock,
)
from backend.wechat.errors import (
    NETWORK_ERROR,
    TOKEN_REJECTED_ERRCODES,
    WeChatError,
    to_app_error,
)
from backend.wechat.subscribe import truncate_subscribe_data

__all__ = [
    "DEFAULT_BASE_URL",
    "REDIS_PREFIX",
    "WeChatError",
    "WeChatGateway",
    "WeChatSession",
    "to_app_error",
    "truncate_subscribe_data",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.weixin.qq.com/"
# Keys in Redis: "qingpu:wechat:<appid>_access_token" (wechatpy's name) and the refresh lock beside it.
REDIS_PREFIX: Final = "qingpu:wechat"


@dataclass(frozen=True)
class WeChatSession:
    """Who a login code belongs to. Nothing here is printed by repr: all of it is personal or secret."""

    openid: str = field(repr=False)
    session_key: str = field(repr=False)
    unionid: str | None = field(default=None, repr=False)


class WeChatGateway:
    """One mini-program's WeChat API, safe to share between threads; with Redis, between processes too."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        redis: Redis | None = None,
        timeout: float = 5.0,
    ) -> None:
        base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        # Long enough for the holder's own fetch to time out before the lock frees itself or a waiter gives up.
        lock_seconds = 2 * timeout + 1
        if redis is not None:
            storage: Any = RedisStorage(redis, prefix=REDIS_PREFIX)
            lock = redis_token_lock(redis, f"{REDIS_PREFIX}:{app_id}_access_token:lock", lock_seconds)
        else:
            storage = MemoryStorage()
            lock = thread_token_lock(lock_seconds)
        self._client = StableTokenClient(
            app_id, app_secret, base_url=base_url, session=storage, refresh_lock=lock, timeout=timeout
        )
        redact_urllib3_logs()

    def code_to_session(self, code: str) -> WeChatSession:
        """Exchange a wx.login() code for the user's openid and session key (a code works once)."""
        if not code:
            raise WeChatError(41008, "missing code")
        result = _answer(lambda: self._client.wxa.code_to_session(code))
        if not result.get("openid") or not result.get("session_key"):
            raise WeChatError(NETWORK_ERROR, "jscode2session answered without openid or session_key")
        return WeChatSession(
            openid=result["openid"], session_key=result["session_key"], unionid=result.get("unionid") or None
        )

    def access_token(self) -> str:
        """The current API access token, fetched from the stable endpoint once and shared through the storage."""
        return _answer(lambda: {"access_token": self._client.access_token})["access_token"]

    def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        """Send a subscribe message; values are cut to their kind's limit first (see truncate_subscribe_data)."""
        wrapped = {key: {"value": value} for key, value in truncate_subscribe_data(data, {}).items()}
        self._with_token(
            lambda: self._client.wxa.send_subscribe_message(openid, template_id, wrapped, page=page)
        )

    def send_customer_text(self, openid: str, text: str) -> None:
        """Send a customer-service text message (allowed within 48 hours of the user writing to us)."""
        self._with_token(lambda: self._client.message.send_text(openid, text))

    def _with_token(self, call: Callable[[], Any]) -> dict[str, Any]:
        token = self.access_token()
        try:
            return _answer(call)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_REJECTED_ERRCODES:
                raise
            log.info(
                "WeChat rejected the access token (errcode %s); refreshing it and retrying once", exc.errcode
            )
        _answer(lambda: {"access_token": self._client.refresh_access_token(rejected=token)})
        return _answer(call)


def _answer(call: Callable[[], Any]) -> dict[str, Any]:
    """Run a wechatpy call; any failure becomes a WeChatError that carries no URL, credential or request."""
    error: WeChatError | None = None
    try:
        result = call()
    except WeChatClientException as exc:
        if exc.errcode is None:
            status = getattr(exc.response, "status_code", "?")
            error = WeChatError(NETWORK_ERROR, f"HTTP {status}")
        else:
            error = WeChatError(int(exc.errcode), str(exc.errmsg))
    except requests.RequestException as exc:
        # Not str(exc): requests puts the URL, with the AppSecret and the login code, in its messages.
        error = WeChatError(NETWORK_ERROR, type(exc).__name__)
    # Raised outside the except blocks so the exception carries no context holding the URL or the client.
    if error is not None:
        raise error
    if not isinstance(result, dict):
        raise WeChatError(NETWORK_ERROR, "the answer is not JSON")
    return result
