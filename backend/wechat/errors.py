"""WeChatError, what WeChat's error codes mean for us, and their translation into the AppError family."""

from __future__ import annotations

from typing import Final

from backend.errors import AppError, RateLimited, ServiceUnavailable

# Not a WeChat code: the request got no usable answer (timeout, refused connection, HTTP error, not JSON).
NETWORK_ERROR: Final = -10000
SYSTEM_BUSY: Final = -1
# The login code was wrong, already used, blocked for a high-risk user, or missing.
INVALID_CODE_ERRCODES: Final = frozenset({40029, 40163, 40226, 41008})
RATE_LIMIT_ERRCODES: Final = frozenset({45009, 45011})
# The access token was not the latest (40001) or has expired (42001): worth one refresh and one retry.
TOKEN_REJECTED_ERRCODES: Final = frozenset({40001, 42001})
SUBSCRIBE_REFUSED: Final = 43101

INVALID_CODE_MESSAGE: Final = "登录凭证无效，请重新进入小程序"
RATE_LIMITED_MESSAGE: Final = "请求太频繁，请稍后再试"
UNAVAILABLE_MESSAGE: Final = "微信服务繁忙，请稍后再试"


class WeChatError(Exception):
    """WeChat answered an error code, or gave no usable answer (errcode NETWORK_ERROR)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    def __str__(self) -> str:
        return f"WeChat errcode {self.errcode}: {self.errmsg}"

    def __repr__(self) -> str:
        return f"WeChatError({self.errcode!r}, {self.errmsg!r})"

    @property
    def retryable(self) -> bool:
        """Trying again later may succeed: WeChat was busy, rate-limited us, or could not be reached."""
        return self.errcode in {SYSTEM_BUSY, NETWORK_ERROR} | RATE_LIMIT_ERRCODES

    @property
    def user_refused(self) -> bool:
        """The user has not accepted (or has withdrawn) this subscribe-message template."""
        return self.errcode == SUBSCRIBE_REFUSED


class WeChatInvalidCode(AppError):
    status = 400
    code = "wechat_invalid_code"
    message = INVALID_CODE_MESSAGE


def to_app_error(exc: WeChatError) -> AppError:
    """The error a resident sees for a failed WeChat call; it names the errcode, never a credential."""
    description = f"WeChat errcode {exc.errcode}"
    if exc.errcode in INVALID_CODE_ERRCODES:
        return WeChatInvalidCode(description=description)
    if exc.errcode in RATE_LIMIT_ERRCODES:
        return RateLimited(RATE_LIMITED_MESSAGE, description=description)
    return ServiceUnavailable(UNAVAILABLE_MESSAGE, description=description)
