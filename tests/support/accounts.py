"""Residents for the tests: a logged-in WeChat user and their bearer token."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.accounts.services import login_with_openid


def make_resident(session: Session, name: str) -> tuple[User, str]:
    issued = login_with_openid(
        session, openid=f"o{name:_<27}"[:28], session_key="sk", nickname=name, ttl=dt.timedelta(days=1)
    )
    session.flush()
    return issued.user, issued.token
