"""A local stand-in for WeChat's HTTP API: a real server on 127.0.0.1 that answers like api.weixin.qq.com.

Login codes: "code-<user>" is valid once and gives the openid of <user> ("code-alice:2" is alice again);
any other code answers 40029, a used one 40163. `fail_code` makes one code fail with any errcode,
`fail_next` makes the next calls of an endpoint fail, `stall_next` makes them slow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

JSCODE2SESSION = "sns/jscode2session"
STABLE_TOKEN = "cgi-bin/stable_token"
TOKEN = "cgi-bin/token"
SUBSCRIBE_SEND = "cgi-bin/message/subscribe/send"
CUSTOM_SEND = "cgi-bin/message/custom/send"

# WeChat's own limits, written out again here on purpose: the gateway's copy is what these tests check.
_VALUE_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32}
_ASCII_NAME_LIMIT = 20
_VALUE_PATTERNS = {
    "number": re.compile(r"[0-9]+(\.[0-9]+)?"),
    "letter": re.compile(r"[A-Za-z]+"),
    "character_string": re.compile(r"[\x21-\x7e]+"),
}
_OPENID = re.compile(r"[A-Za-z0-9_-]{28}")


@dataclass
class _Failure:
    errcode: int
    times: int
    http_status: int = 200


@dataclass
class _Stall:
    seconds: float
    times: int


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class WeChatStandIn:
    """Start it (or use it as a context manager), point the gateway at .base_url, then inspect what it got."""

    def __init__(
        self, app_id: str | None = None, app_secret: str | None = None, *, token_ttl: int = 7200
    ) -> None:
        self.app_id = app_id or f"wx{secrets.token_hex(8)}"
        self.app_secret = app_secret or secrets.token_hex(16)
        self.token_ttl = token_ttl
        self.issue_unionid = False
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> WeChatStandIn:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        # A short poll interval: shutdown() waits for the serving loop to notice it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="wechat-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WeChatStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_port}/"

    # -- what the tests set and read ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every call, message, failure, used code and token."""
        with self._lock:
            self.calls: list[tuple[str, str]] = []
            self.subscribe_messages: list[dict[str, Any]] = []
            self.custom_messages: list[dict[str, Any]] = []
            self.issue_unionid = False
            self._failures: dict[str, _Failure] = {}
            self._stalls: dict[str, _Stall] = {}
            self._code_errors: dict[str, int] = {}
            self._used_codes: set[str] = set()
            self._token: str | None = None
            self._token_expires_at = 0.0
            self._expired_tokens: set[str] = set()

    def fail_next(self, path: str, errcode: int, times: int = 1, *, http_status: int = 200) -> None:
        """The next `times` calls of `path` answer `errcode` (or, with http_status, that HTTP status)."""
        with self._lock:
            self._failures[path.strip("/")] = _Failure(errcode, times, http_status)

    def stall_next(self, path: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `path` wait `seconds` before answering."""
        with self._lock:
            self._stalls[path.strip("/")] = _Stall(seconds, times)

    def fail_code(self, code: str, errcode: int) -> None:
        """This login code always answers `errcode` (40029 invalid, 40163 used, 45011 rate limit, -1 busy …)."""
        with self._lock:
            self._code_errors[code] = errcode

    def expire_token(self) -> None:
        """The current access token expires now: calls with it answer 42001 and the next fetch issues a new one."""
        with self._lock:
            if self._token is not None:
                self._expired_tokens.add(self._token)
            self._token = None

    @property
    def current_token(self) -> str | None:
        return self._token

    @property
    def stable_token_calls(self) -> int:
        return self.calls.count(("POST", STABLE_TOKEN))

    def calls_to(self, path: str) -> int:
        return sum(1 for _method, called in self.calls if called == path.strip("/"))

    def openid_for(self, code: str) -> str:
        """The openid this stand-in gives for a code's user: "o" and 27 URL-safe characters, fixed per app."""
        return "o" + _digest(f"{self.app_id}:{_user_of(code)}")[:27]

    def unionid_for(self, code: str) -> str:
        return "u" + _digest(f"union:{_user_of(code)}")[:27]

    # -- the HTTP side -----------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path.strip("/")
        with self._lock:
            self.calls.append((request.method, path))
            stall = self._take(self._stalls, path)
            failure = self._take(self._failures, path)
        if stall is not None:
            time.sleep(stall.seconds)
        if failure is not None and failure.http_status != 200:
            return Response("stand-in HTTP failure", status=failure.http_status)(environ, start_response)
        routes = {
            ("GET", JSCODE2SESSION): self._jscode2session,
            ("POST", STABLE_TOKEN): self._stable_token,
            ("GET", TOKEN): self._classic_token,
            ("POST", SUBSCRIBE_SEND): self._subscribe_send,
            ("POST", CUSTOM_SEND): self._custom_send,
        }
        handler = routes.get((request.method, path))
        if handler is None:
            return Response("not found", status=404)(environ, start_response)
        with self._lock:
            answer = handler(request, failure)
        body = json.dumps(answer, ensure_ascii=False)
        return Response(body, content_type="application/json; charset=utf-8")(environ, start_response)

    @staticmethod
    def _take(pending: dict[str, Any], path: str) -> Any:
        entry = pending.get(path)
        if entry is None:
            return None
        entry.times -= 1
        if entry.times <= 0:
            del pending[path]
        return entry

    def _jscode2session(self, request: Request, failure: _Failure | None) -> dict[str, Any]:
        args = request.args
        if args.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if args.get("secret") != self.app_secret:
            return _error(40125, "invalid appsecret")
        if args.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        if failure is not None:
            return _error(failure.errcode, "stand-in failure")
        code = args.get("js_code", "")
        if not code:
            return _error(41008, "missing code")
        if code in self._code_errors:
            return _error(self._code_errors[code], "stand-in failure for this code")
        if not code.startswith("code-"):
            return _error(40029, "invalid code")
        if code in self._used_codes:
            return _error(40163, "code been used")
        self._used_codes.add(code)
        answer = {
            "openid": self.openid_for(code),
            "session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        if self.issue_unionid:
            answer["unionid"] = self.unionid_for(code)
        return answer

    def _stable_token(self, request: Request, failure: _Failure | None) -> dict[str, Any]:
        body = request.get_json(force=True, silent=True) or {}
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if body.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if body.get("secret") != self.app_secret:
            return _error(40125, "invalid appsecret")
        if failure is not None:
            return _error(failure.errcode, "stand-in failure")
        now = time.time()
        if self._token is None or now >= self._token_expires_at or body.get("force_refresh") is True:
            self._issue_token(now)
        return {"access_token": self._token, "expires_in": int(self._token_expires_at - now)}

    def _classic_token(self, request: Request, failure: _Failure | None) -> dict[str, Any]:
        # Unlike the stable endpoint, every call issues a new token and the previous one stops working.
        if request.args.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if request.args.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if request.args.get("secret") != self.app_secret:
            return _error(40125, "invalid appsecret")
        if failure is not None:
            return _error(failure.errcode, "stand-in failure")
        self._issue_token(time.time())
        return {"access_token": self._token, "expires_in": self.token_ttl}

    def _issue_token(self, now: float) -> None:
        self._token = secrets.token_urlsafe(48)
        self._token_expires_at = now + self.token_ttl

    def _token_error(self, request: Request) -> dict[str, Any] | None:
        token = request.args.get("access_token")
        if not token:
            return _error(41001, "access_token missing")
        if token in self._expired_tokens or (token == self._token and time.time() >= self._token_expires_at):
            return _error(42001, "access_token expired")
        if token != self._token:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        return None

    def _subscribe_send(self, request: Request, failure: _Failure | None) -> dict[str, Any]:
        if (error := self._token_error(request)) is not None:
            return error
        if failure is not None:
            return _error(failure.errcode, "stand-in failure")
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        if not _OPENID.fullmatch(str(body.get("touser", ""))):
            return _error(40003, "invalid openid")
        if not body.get("template_id"):
            return _error(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return _error(47001, "data format error")
        for key, item in data.items():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                return _error(47001, "data format error")
            if not _value_fits(key, item["value"]):
                return _error(47003, f"argument invalid! data.{key}.value invalid")
        self.subscribe_messages.append(body)
        return _error(0, "ok") | {"msgid": len(self.subscribe_messages)}

    def _custom_send(self, request: Request, failure: _Failure | None) -> dict[str, Any]:
        if (error := self._token_error(request)) is not None:
            return error
        if failure is not None:
            return _error(failure.errcode, "stand-in failure")
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not _OPENID.fullmatch(str(body.get("touser", ""))):
            return _error(40003, "invalid openid")
        if body.get("msgtype") == "text" and not (body.get("text") or {}).get("content"):
            return _error(44003, "empty news data")
        self.custom_messages.append(body)
        return _error(0, "ok")


def _value_fits(key: str, value: str) -> bool:
    kind = key.rstrip("0123456789")
    if not value:
        return False
    limit = _VALUE_LIMITS.get(kind)
    if kind == "name" and value.isascii():
        limit = _ASCII_NAME_LIMIT
    if limit is not None and len(value) > limit:
        return False
    pattern = _VALUE_PATTERNS.get(kind)
    return pattern is None or pattern.fullmatch(value) is not None


def _user_of(code: str) -> str:
    return code.removeprefix("code-").split(":", 1)[0]


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}
