"""Logging in: WeChat's wx.login code for our own bearer token, and the development login."""

from __future__ import annotations

import datetime as dt

from flask import current_app, g, request
from flask_openapi3 import APIBlueprint, Tag

from backend.accounts.models import User
from backend.accounts.services import authenticate, dev_openid, login_with_openid, revoke_token
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody, ServiceUnavailable, Unauthorized
from backend.wechat import WeChatError, to_app_error
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import DevLoginBody, LoginBody, TokenOut

auth_tag = Tag(name="登录", description="用 wx.login 的 code 换取本系统的访问令牌")
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def current_user() -> User:
    """The user of the request's bearer token; 401 in the error shape without a valid one."""
    if "current_user" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(code="missing_token")
        g.current_user = authenticate(get_session(), token.strip())
    return g.current_user


# Endpoints anyone may call; every other one needs a bearer token, checked before the body is validated
# so that a stranger learns nothing about the API's rules.
PUBLIC_ENDPOINTS = {
    "mp.get_towns",
    "mp.get_estates",
    "mp.get_categories",
    "mp.login",
    "mp.get_upload",  # checks a signature or the token itself
    "mp.get_articles",  # published articles: residents read them without logging in
    "mp.search_articles",
    "mp.get_related_articles",
    "mp.get_article",
    "mp.get_article_image",
}


@mp_api.before_request
def _require_token() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        current_user()


def _token_ttl() -> dt.timedelta:
    return dt.timedelta(days=get_config().AUTH_TOKEN_TTL_DAYS)


@mp_api.post("/auth/login", tags=[auth_tag], responses={200: TokenOut, 429: ErrorBody, 503: ErrorBody})
def login(body: LoginBody) -> dict:
    """用 wx.login 的 code 登录。微信会话密钥只保存在服务器端。"""
    gateway = current_app.extensions.get("wechat")
    if gateway is None:
        raise ServiceUnavailable("未配置微信登录", code="wechat_not_configured")
    try:
        wx = gateway.code_to_session(body.code)
    except WeChatError as exc:
        raise to_app_error(exc) from exc
    session = get_session()
    issued = login_with_openid(
        session, openid=wx.openid, session_key=wx.session_key, unionid=wx.unionid, ttl=_token_ttl()
    )
    session.commit()
    return TokenOut(token=issued.token, expires_at=issued.expires_at).model_dump(mode="json")


@mp_api.post("/auth/logout", tags=[auth_tag], security=BEARER, responses={204: None, 401: ErrorBody})
def logout() -> tuple[str, int]:
    """注销当前令牌。"""
    current_user()
    session = get_session()
    revoke_token(session, request.headers["Authorization"].partition(" ")[2].strip())
    session.commit()
    return "", 204


dev_api = APIBlueprint(
    "mp_dev", __name__, url_prefix="/api/mp/v1", abp_responses={400: ErrorBody, 500: ErrorBody}
)


@dev_api.post("/auth/dev-login", tags=[auth_tag], responses={200: TokenOut})
def dev_login(body: DevLoginBody) -> dict:
    """开发登录：仅在未配置微信的嵌入式开发模式下存在。"""
    session = get_session()
    issued = login_with_openid(
        session, openid=dev_openid(body.nickname), session_key=None, nickname=body.nickname, ttl=_token_ttl()
    )
    session.commit()
    return TokenOut(token=issued.token, expires_at=issued.expires_at).model_dump(mode="json")
