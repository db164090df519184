"""Rules of staff accounts: creating them, checking passwords with lockout, and the Actor they act as."""

from __future__ import annotations

import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, SYSTEM, Actor, Role
from backend.db import utcnow
from backend.errors import Conflict, Unauthorized, ValidationFailed
from backend.org.models import PropertyCompany, Squad
from backend.staff.models import StaffNotice, StaffUser

STAFF_ROLES = (Role.OFFICER, Role.SQUAD_LEADER, Role.SUPERVISOR, Role.ADMIN, Role.EDITOR, Role.PROPERTY_STAFF)
ROLE_LABELS = {
    Role.OFFICER: "中队队员",
    Role.SQUAD_LEADER: "中队长",
    Role.SUPERVISOR: "区局督办",
    Role.ADMIN: "区局管理员",
    Role.EDITOR: "社区工作室编辑",
    Role.PROPERTY_STAFF: "物业人员",
}
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


USERNAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def create_staff(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    squad: Squad | None = None,
    company: PropertyCompany | None = None,
    phone: str | None = None,
) -> StaffUser:
    """A new console account; officers and squad leaders need a squad, property staff a company."""
    try:
        staff_role = Role(role)
    except ValueError:
        raise ValidationFailed.on("role", "没有这个角色") from None
    if staff_role not in STAFF_ROLES:
        raise ValidationFailed.on("role", "没有这个角色")
    if not USERNAME.fullmatch(username):  # ASCII only: ａｄｍｉｎ must not pass for admin in the audit trail
        raise ValidationFailed.on("username", "用户名只能包含字母、数字、下划线和连字符")
    if not display_name.strip():
        raise ValidationFailed.on("display_name", "请填写姓名")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed.on("password", f"密码至少 {MIN_PASSWORD} 位")
    if staff_role in SQUAD_ROLES and squad is None:
        raise ValidationFailed.on("squad", "中队队员和中队长必须属于一个中队")
    if staff_role is Role.PROPERTY_STAFF and company is None:
        raise ValidationFailed.on("company", "物业人员必须属于一家物业公司")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict("用户名已被使用", code="username_taken")
    staff = StaffUser(
        username=username,
        display_name=display_name.strip(),
        role=staff_role.value,
        squad=squad if staff_role in SQUAD_ROLES else None,
        company=company if staff_role is Role.PROPERTY_STAFF else None,
        phone=phone,
        password_hash=_hasher.hash(password),
    )
    try:
        with session.begin_nested():
            session.add(staff)
    except IntegrityError:  # the same name created by a request that committed after our check
        raise Conflict("用户名已被使用", code="username_taken") from None
    return staff


def authenticate_staff(
    session: Session, username: str, password: str, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """The account if the password is right; a locked or wrong login says the same thing to the caller.
    Either way the attempt goes on the audit trail with `ip`: a refusal under the account it was for (never
    the name as typed, which may be a password typed in the wrong field), or "unknown"."""
    now = now or utcnow()
    staff = session.scalar(select(StaffUser).where(StaffUser.username == username))

    def refused() -> Unauthorized:
        target = staff.id if staff is not None else "unknown"
        record_audit(session, SYSTEM, "staff.login_failed", "staff", target, ip=ip, now=now)
        return Unauthorized("用户名或密码错误，或账号已被暂时锁定", code="login_failed")

    if staff is None or not staff.active:
        _check(_DUMMY_HASH, password)
        raise refused()
    if staff.locked_until is not None and staff.locked_until > now:
        raise refused()
    if not _check(staff.password_hash, password):
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
        raise refused()
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    record_audit(session, staff_actor(staff), "staff.login", "staff", staff.id, ip=ip, now=now)
    return staff


def _check(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def staff_actor(staff: StaffUser) -> Actor:
    """The Actor a staff member acts as in the case services."""
    where = staff.squad.name if staff.squad else ("区局" if Role(staff.role) in BUREAU_ROLES else "")
    return Actor(Role(staff.role), staff.id, f"{where} {staff.display_name}".strip(), squad_id=staff.squad_id)


def get_staff(session: Session, staff_id: int) -> StaffUser | None:
    return session.scalar(
        select(StaffUser).where(StaffUser.id == staff_id).options(selectinload(StaffUser.squad))
    )


def list_staff(session: Session) -> list[StaffUser]:
    return list(
        session.scalars(select(StaffUser).options(selectinload(StaffUser.squad)).order_by(StaffUser.id))
    )


def squad_members(session: Session, squad_id: int) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.squad_id == squad_id, StaffUser.active)
            .order_by(StaffUser.display_name)
        )
    )


def mask_phone(phone: str | None) -> str:
    """138****5678: enough for an officer to recognise a callback, not to dial it."""
    if not phone:
        return ""
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


def _unread_notices(actor: Actor) -> Select[tuple[StaffNotice]] | None:
    """Unread notices addressed to the actor's squad (officers and leaders) or to the bureau; None for
    anyone else."""
    query = select(StaffNotice).where(StaffNotice.read_at.is_(None))
    if actor.role in SQUAD_ROLES:
        return query.where(StaffNotice.squad_id == actor.squad_id)
    if actor.role in BUREAU_ROLES:
        return query.where(StaffNotice.for_bureau.is_(True))
    return None


def list_notices(session: Session, actor: Actor, *, limit: int = 20) -> list[StaffNotice]:
    """The actor's unread notices, newest first."""
    query = _unread_notices(actor)
    if query is None:
        return []
    return list(session.scalars(query.order_by(StaffNotice.id.desc()).limit(limit)))


def mark_notices_read(
    session: Session, actor: Actor, ids: list[int], *, now: dt.datetime | None = None
) -> int:
    """Mark notices read; only those addressed to the actor's squad or, for the bureau, to the bureau."""
    query = _unread_notices(actor)
    if query is None or not ids:
        return 0
    notices = list(session.scalars(query.where(StaffNotice.id.in_(ids))))
    for notice in notices:
        notice.read_at = now or utcnow()
    session.flush()
    return len(notices)
