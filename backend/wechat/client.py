"""wechatpy's WeChatClient, adapted: our base URL, the stable access token shared by every process, no hidden retries."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final

import requests
from redis import Redis
from redis.exceptions import LockError
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

log = logging.getLogger(__name__)

# A token is kept this much shorter than WeChat says it lives, so no call goes out with one about to expire;
# in its last five minutes the stable endpoint hands out the next token.
EARLY_REFRESH_SECONDS: Final = 300

TokenLock = Callable[[], AbstractContextManager[bool]]


class _Wxa(WeChatWxa):
    """wechatpy's mini-program API, with code_to_session sent without an access token."""

    def code_to_session(self, js_code: str) -> Any:
        # jscode2session authenticates with the AppSecret; wechatpy would also fetch and attach an access
        # token, which makes every login depend on the token endpoint and puts the token in another URL.
        # It adds the token to a dict of params only: pairs pass through untouched.
        return self._get(
            "sns/jscode2session",
            params=[
                ("appid", self.appid),
                ("secret", self.secret),
                ("js_code", js_code),
                ("grant_type", "authorization_code"),
            ],
        )


class StableTokenClient(WeChatClient):
    """A WeChatClient whose access token comes from cgi-bin/stable_token, cached in `session` for every process.

    wechatpy's own refresh (GET cgi-bin/token, hard-coded to api.weixin.qq.com) issues a new token each time and
    so invalidates the token other processes hold; the stable endpoint returns the current one. wechatpy's
    automatic retry on a rejected token is switched off: it recurses without limit, the gateway retries once.
    """

    wxa = _Wxa()

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str,
        session: SessionStorage,
        refresh_lock: TokenLock,
        timeout: float,
    ) -> None:
        super().__init__(app_id, app_secret, session=session, timeout=timeout, auto_retry=False)
        self.base_url = base_url
        # wechatpy joins endpoints to API_BASE_URL; the wxa API carries its own, so both are set per instance.
        self.API_BASE_URL = f"{base_url}cgi-bin/"
        self.wxa.API_BASE_URL = base_url
        self._refresh_lock = refresh_lock

    @property
    def access_token(self) -> str:
        return self.session.get(self.access_token_key) or self.refresh_access_token()

    def refresh_access_token(self, rejected: str | None = None) -> str:
        """Fetch the token once for everyone: under the lock, a token another process stored meanwhile wins."""
        with self._refresh_lock():
            current = self.session.get(self.access_token_key)
            if current and current != rejected:
                return current
            return self.fetch_access_token()["access_token"]

    def fetch_access_token(self) -> dict[str, Any]:
        log.info("fetching the WeChat access token from the stable endpoint")
        try:
            res = self._http.post(
                f"{self.base_url}cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                    "force_refresh": False,
                },
                timeout=self.timeout,
            )
            res.raise_for_status()
        except requests.HTTPError as exc:
            raise WeChatClientException(None, None, client=self, response=exc.response) from None
        result = self._decode_result(res)
        if not isinstance(result, dict) or "access_token" not in result:
            errcode = result.get("errcode") if isinstance(result, dict) else None
            errmsg = result.get("errmsg", "") if isinstance(result, dict) else "answer is not JSON"
            raise WeChatClientException(errcode, errmsg, client=self, response=res)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], _cache_seconds(expires_in))
        self.expires_at = int(time.time()) + expires_in
        return result


def _cache_seconds(expires_in: int) -> int:
    if expires_in > 2 * EARLY_REFRESH_SECONDS:
        return expires_in - EARLY_REFRESH_SECONDS
    return max(expires_in // 2, 1)


def redis_token_lock(redis: Redis, name: str, wait: float) -> TokenLock:
    """A lock shared by every process on `redis`; it expires on its own should its holder die."""

    @contextmanager
    def hold() -> Iterator[bool]:
        lock = redis.lock(name, timeout=wait, blocking_timeout=wait, thread_local=False)
        acquired = lock.acquire()
        try:
            # When the wait runs out we fetch anyway: the stable endpoint never invalidates a token.
            yield acquired
        finally:
            if acquired:
                try:
                    lock.release()
                except LockError:
                    log.warning("the WeChat token lock expired before it was released")

    return hold


def thread_token_lock(wait: float) -> TokenLock:
    """A lock for the threads of this process, when there is no Redis to share."""
    lock = threading.Lock()

    @contextmanager
    def hold() -> Iterator[bool]:
        acquired = lock.acquire(timeout=wait)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()

    return hold


_SECRET_QUERY = re.compile(r"\b(secret|js_code|access_token)=[^&\s\"']*")


class RedactSecretQueries(logging.Filter):
    """Masks the AppSecret, login code and access token in URLs that urllib3 logs at DEBUG level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_QUERY.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_urllib3_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactSecretQueries) for f in logger.filters):
        logger.addFilter(RedactSecretQueries())
