"""Binding a WeChat account (a mini-program user) to a property-staff console account with a one-time code.

The console shows a staff member a short code, once; typed into the mini-program within ten minutes it binds
the WeChat account that typed it to the staff account, and from then on that user's token acts for the
staff member's company (backend.property.staff.property_actor). Only the code's SHA-256 is kept. A code is
claimed with one UPDATE that only an unused code passes, so a code typed twice at once binds once."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.workflow import Role
from backend.db import rows_changed
from backend.errors import Conflict, ValidationFailed
from backend.property.models import BindingCode
from backend.property.staff import property_actor
from backend.staff.models import StaffUser
from backend.staff.services import staff_actor

# No 0/O, 1/I/L, 5/S, 2/Z, U/V: nothing that reads as something else on a phone's screen or when said aloud.
CODE_ALPHABET = "346789ABCDEFGHJKMNPQRTWXY"
CODE_LENGTH = 8  # 25**8 ≈ 1.5 × 10**11 codes: with 5 tries per user in 10 minutes, not worth guessing
CODE_TTL = dt.timedelta(minutes=10)
# How many failed bindings a mini-program user may make in a window (Flask-Limiter notation).
BINDING_ATTEMPTS = "5 per 10 minutes"
# One answer for an unknown, expired, used or voided code, or one of an account that can no longer bind:
# which of them it was would tell a guesser something.
DRAWS = 5  # codes drawn before giving up on finding one no live code has (never needed in practice)
REFUSED = "绑定码无效或已过期，请在物业管理后台重新获取"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_code(text: str) -> str:
    """A code as typed (lower case, spaces or hyphens between its groups) as it was issued."""
    return "".join(c for c in text.upper() if c not in " -\t")


def issue_binding_code(session: Session, staff: StaffUser, *, now: dt.datetime) -> str:
    """A new one-time code for `staff` (an active property-staff account), valid for CODE_TTL; the codes it
    was given before are voided. The code itself is returned once and never stored."""
    if not _may_bind(staff):
        raise Conflict("只有启用的物业人员账号可以绑定微信", code="not_property_staff")
    # The account's older codes, used or not, are voided, and anyone's expired ones go: none can bind again.
    session.execute(
        delete(BindingCode).where(or_(BindingCode.staff_id == staff.id, BindingCode.expires_at <= now))
    )
    for _draw in range(DRAWS):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with (
                session.begin_nested()
            ):  # another account's live code that happens to be the same: draw again
                session.add(
                    BindingCode(
                        staff_id=staff.id, code_hash=_digest(code), created_at=now, expires_at=now + CODE_TTL
                    )
                )
        except IntegrityError:
            continue
        break
    else:
        raise Conflict("未能生成绑定码，请重试", code="binding_code_failed")
    record_audit(session, staff_actor(staff), "staff.binding_code", "staff", staff.id, now=now)
    return code


def bind_wechat(session: Session, user: User, code: str, *, now: dt.datetime) -> StaffUser:
    """Bind `user` to the staff account whose code `code` is: it must be known, unused and unexpired, and its
    account an active property-staff one. A user bound to another account is moved to this one; an account
    bound to another user is taken from it (the audit entry says which). The code is used up."""
    row = session.scalar(select(BindingCode).where(BindingCode.code_hash == _digest(normalise_code(code))))
    if row is None:
        raise _refused()
    claimed = rows_changed(
        session,
        update(BindingCode)
        .where(BindingCode.id == row.id, BindingCode.used_at.is_(None), BindingCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        raise _refused()
    staff = session.get(StaffUser, row.staff_id, populate_existing=True)
    if staff is None or not _may_bind(staff):
        raise _refused()
    detail: dict[str, object] = {"user_id": user.id}
    moved_from = session.scalar(
        select(StaffUser).where(StaffUser.wechat_user_id == user.id, StaffUser.id != staff.id)
    )
    if moved_from is not None:  # the WeChat account was bound to another staff account: moved here
        moved_from.wechat_user_id = None
        detail["moved_from_staff_id"] = moved_from.id
    if staff.wechat_user_id is not None and staff.wechat_user_id != user.id:
        detail["replaced_user_id"] = staff.wechat_user_id  # the account was bound to another WeChat account
    session.flush()  # the old binding goes first: a WeChat account is bound to one staff account at a time
    try:
        with session.begin_nested():
            staff.wechat_user_id = user.id
            session.flush()
    except IntegrityError:  # the same WeChat account bound elsewhere by a request that committed meanwhile
        raise Conflict("绑定未完成，请重试", code="binding_conflict") from None
    record_audit(session, staff_actor(staff), "staff.wechat_bind", "staff", staff.id, detail=detail, now=now)
    return staff


def unbind_wechat(
    session: Session, who: StaffUser | User, *, via: str, ip: str = "", now: dt.datetime | None = None
) -> StaffUser | None:
    """Unbind the WeChat account of a staff account (from the console), or the staff account of a WeChat
    user (from the mini-program; disabled accounts too). It takes effect at the user's next request. None
    when nothing was bound."""
    if isinstance(who, StaffUser):
        staff: StaffUser | None = who
    else:
        staff = session.scalar(select(StaffUser).where(StaffUser.wechat_user_id == who.id))
    if staff is None or staff.wechat_user_id is None:
        return None
    user_id = staff.wechat_user_id
    staff.wechat_user_id = None
    session.flush()
    record_audit(
        session,
        staff_actor(staff),
        "staff.wechat_unbind",
        "staff",
        staff.id,
        detail={"user_id": user_id, "via": via},
        ip=ip,
        now=now,
    )
    return staff


def bound_user(session: Session, staff: StaffUser) -> User | None:
    """The WeChat account (mini-program user) bound to `staff`, if any."""
    return session.get(User, staff.wechat_user_id) if staff.wechat_user_id is not None else None


def bound_account(session: Session, user: User) -> StaffUser:
    """The active property-staff account `user` is bound to; Forbidden, as property_actor says it, for a user
    never bound, unbound, or bound to a disabled account."""
    actor = property_actor(session, user)
    return session.get_one(StaffUser, actor.id)


def _may_bind(staff: StaffUser) -> bool:
    return staff.active and Role(staff.role) is Role.PROPERTY_STAFF and staff.company_id is not None


def _refused() -> ValidationFailed:
    return ValidationFailed.on("code", REFUSED, description="code: unknown, expired, used or voided")
