"""Logging residents in (WeChat or the development login) and checking their bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend.accounts.models import AuthToken, User
from backend.db import as_loaded, utcnow
from backend.errors import Unauthorized

TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime
    user: User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_with_openid(
    session: Session,
    *,
    openid: str,
    session_key: str | None,
    unionid: str | None = None,
    nickname: str = "",
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> IssuedToken:
    """Find or create the user of `openid`, remember WeChat's session key, and issue a new token."""
    now = now or utcnow()
    user = get_or_create_user(session, openid)
    if session_key is not None:
        user.wechat_session_key = session_key
    if unionid:
        user.unionid = unionid
    if nickname:
        user.nickname = nickname
    user.last_login_at = now
    session.flush()
    return issue_token(session, user, ttl=ttl, now=now)


def get_or_create_user(session: Session, openid: str) -> User:
    """The user of `openid`, created (without a nickname) on first sight."""
    user = session.scalar(select(User).where(User.openid == openid))
    if user is None:
        user = User(openid=openid, nickname="")
        session.add(user)
        session.flush()
    return user


def dev_openid(nickname: str) -> str:
    """A stable development identity for a nickname (embedded mode only); it cannot collide with WeChat's."""
    return "dev:" + hashlib.sha256(nickname.encode()).hexdigest()[:40]


def issue_token(
    session: Session, user: User, *, ttl: dt.timedelta, now: dt.datetime | None = None
) -> IssuedToken:
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = AuthToken(user=user, token_hash=_hash(token), created_at=now, expires_at=now + ttl)
    session.add(row)
    session.flush()
    return IssuedToken(token, row.expires_at, user)


# Every request with a token runs it: built once (building a statement costs more than running this one), the
# token's checks in its WHERE, only the user's row read, through Core (the ORM's query layer cost more than the
# read), and the User made from it as if loaded.
_USER_OF_VALID_TOKEN = (
    select(*User.__table__.columns)
    .join(AuthToken, AuthToken.user_id == User.id)
    .where(
        AuthToken.token_hash == bindparam("token_hash"),
        AuthToken.revoked_at.is_(None),
        AuthToken.expires_at > bindparam("now"),
    )
)


def authenticate(session: Session, token: str, *, now: dt.datetime | None = None) -> User:
    """The user a bearer token belongs to; Unauthorized if it is unknown, expired or revoked."""
    values = {"token_hash": _hash(token), "now": now or utcnow()}
    row = session.connection().execute(_USER_OF_VALID_TOKEN, values).mappings().one_or_none()
    if row is None:
        raise Unauthorized("登录已失效，请重新登录", code="invalid_token")
    return as_loaded(session, User, row)


def revoke_token(session: Session, token: str, *, now: dt.datetime | None = None) -> bool:
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    session.flush()
    return True
