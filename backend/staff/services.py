"""Rules of staff accounts: creating them, checking passwords with lockout, ending their console sessions,
and the Actor they act as."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Select, bindparam, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, SYSTEM, Actor, Role
from backend.db import as_loaded, utcnow
from backend.errors import Conflict, FieldError, Forbidden, Unauthorized, ValidationFailed
from backend.org.models import PropertyCompany, Squad
from backend.org.services import kept_rows
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
    _check_new_password(password, field="password")
    if staff_role in SQUAD_ROLES and squad is None:
        raise ValidationFailed.on("squad", "中队队员和中队长必须属于一个中队")
    if staff_role is Role.PROPERTY_STAFF and company is None:
        raise ValidationFailed.on("company", "物业人员必须属于一家物业公司")
    if staff_role is Role.PROPERTY_STAFF and company is not None and company.active is False:
        raise ValidationFailed.on("company", "这家物业公司已停用")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise _username_taken()
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
        raise _username_taken() from None
    return staff


def _username_taken() -> Conflict:
    message = "用户名已被使用"
    return Conflict(message, code="username_taken", errors=[FieldError(field="username", message=message)])


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
        _count_failure(staff, now)
        raise refused()
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    record_audit(session, staff_actor(staff), "staff.login", "staff", staff.id, ip=ip, now=now)
    return staff


# -------------------------------------------------------------------------- ending console sessions
# A console session is a signed cookie holding the account's session_version; every request compares it with
# the account's. Bumping the version ends every session opened before, wherever it is.


def log_out_staff(
    session: Session, staff: StaffUser, *, ip: str = "", now: dt.datetime | None = None
) -> None:
    """Logging out ends every session of the account, not just this browser's cookie (which anyone who
    copied it could go on using)."""
    _end_sessions(session, staff)
    record_audit(session, staff_actor(staff), "staff.logout", "staff", staff.id, ip=ip, now=now)


def change_own_password(
    session: Session,
    staff: StaffUser,
    current_password: str,
    new_password: str,
    confirm_password: str,
    *,
    ip: str = "",
    now: dt.datetime | None = None,
) -> StaffUser:
    """A staff member sets a new password, proving the current one. Every session of the account ends; the
    caller gives the browser it was asked from a session with the new version. A wrong current password counts
    towards the login lockout: a session left open must not become a way to guess the password."""
    now = now or utcnow()
    if staff.locked_until is not None and staff.locked_until > now:
        raise ValidationFailed.on("current_password", "尝试次数过多，请稍后再试")
    if not _check(staff.password_hash, current_password):
        _count_failure(staff, now)
        record_audit(
            session, staff_actor(staff), "staff.password_change_failed", "staff", staff.id, ip=ip, now=now
        )
        raise ValidationFailed.on("current_password", "当前密码不正确")
    _check_new_password(new_password, field="new_password")
    if new_password != confirm_password:
        raise ValidationFailed.on("confirm_password", "两次输入的新密码不一致")
    if new_password == current_password:
        raise ValidationFailed.on("new_password", "新密码不能与当前密码相同")
    staff.password_hash = _hasher.hash(new_password)
    staff.failed_logins = 0
    _end_sessions(session, staff)
    record_audit(session, staff_actor(staff), "staff.password_change", "staff", staff.id, ip=ip, now=now)
    return staff


def reset_staff_password(
    session: Session,
    staff: StaffUser,
    actor: Actor,
    password: str,
    *,
    ip: str = "",
    now: dt.datetime | None = None,
) -> StaffUser:
    """An admin sets a new password for someone who lost theirs; the lockout is lifted and every session of
    the account ends. Admins change their own with change_own_password, which asks for the current one."""
    _require_admin(actor)
    if staff.id == actor.id:
        raise ValidationFailed.on("password", "修改自己的密码请用「修改密码」页面")
    _check_new_password(password, field="password")
    staff.password_hash = _hasher.hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    _end_sessions(session, staff)
    record_audit(session, actor, "staff.password_reset", "staff", staff.id, ip=ip, now=now)
    return staff


def disable_staff(
    session: Session, staff: StaffUser, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """An admin disables an account (a company's manager, one of the company's staff): it cannot log in, every
    session it has ends, and the WeChat account bound to it acts for no company from its next request. An
    admin cannot disable their own account (so one active admin always remains)."""
    _require_admin_or_manager_of(session, actor, staff)
    if staff.id == actor.id:
        raise Conflict("不能停用自己的账号", code="cannot_disable_self")
    staff.active = False
    _end_sessions(session, staff)
    record_audit(session, actor, "staff.disable", "staff", staff.id, ip=ip, now=now)
    return staff


def enable_staff(
    session: Session, staff: StaffUser, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """An admin (a company's manager, for the company's staff) enables a disabled account again; its owner
    logs in afresh. An account of a stopped company stays disabled."""
    _require_admin_or_manager_of(session, actor, staff)
    if staff.company is not None and staff.company.active is False:
        raise ValidationFailed.on("company", "这家物业公司已停用")
    staff.active = True
    record_audit(session, actor, "staff.enable", "staff", staff.id, ip=ip, now=now)
    return staff


def end_staff_sessions(
    session: Session, staff: StaffUser, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """强制下线: an admin ends every session of an account (a lost phone, a shared computer) without
    changing its password."""
    _require_admin(actor)
    _end_sessions(session, staff)
    record_audit(session, actor, "staff.end_sessions", "staff", staff.id, ip=ip, now=now)
    return staff


def _end_sessions(session: Session, staff: StaffUser) -> None:
    # Incremented by the database, not in Python: two requests ending sessions at once give two new versions,
    # so a password change racing an admin's 强制下线 cannot keep the session the admin meant to end.
    staff.session_version = StaffUser.session_version + 1
    session.flush()


def _require_admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden("只有区局管理员可以管理账号", description=f"{actor.role.value} is not an admin")


# --------------------------------------------------------------------- a property company's own accounts
# A company's manager (StaffUser.company_manager, set by an admin) creates, disables and enables the company's
# other staff accounts; never another company's, another manager's or their own. The flag is read from the
# account at each call, so a manager an admin demotes loses the power at once.


def company_manager(session: Session, actor: Actor) -> StaffUser:
    """The actor's own account, if it is an active manager of a company; Forbidden otherwise."""
    staff = session.get(StaffUser, actor.id) if actor.role is Role.PROPERTY_STAFF and actor.id else None
    if staff is None or not staff.active or not staff.company_manager or staff.company_id is None:
        raise Forbidden(
            "只有物业公司的管理员可以管理本公司账号",
            description=f"{actor.role.value} is not a company manager",
        )
    return staff


def _require_admin_or_manager_of(session: Session, actor: Actor, staff: StaffUser) -> None:
    if actor.role is Role.ADMIN:
        return
    if actor.role is not Role.PROPERTY_STAFF:
        _require_admin(actor)
    manager = company_manager(session, actor)
    if (
        staff.company_id != manager.company_id
        or Role(staff.role) is not Role.PROPERTY_STAFF
        or staff.company_manager
    ):
        raise Forbidden(
            "只能管理本公司的员工账号",
            description=f"staff {staff.id} is not a staff member of company {manager.company_id}",
        )


def create_company_staff(
    session: Session,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    phone: str | None = None,
    ip: str = "",
    now: dt.datetime | None = None,
) -> StaffUser:
    """A company's manager creates a staff account of their own company (not a manager: only an admin makes
    one)."""
    manager = company_manager(session, actor)
    staff = create_staff(
        session,
        username=username,
        display_name=display_name,
        role=Role.PROPERTY_STAFF.value,
        password=password,
        company=manager.company,
        phone=phone,
    )
    session.flush()
    record_audit(
        session,
        actor,
        "staff.create",
        "staff",
        staff.id,
        detail={"role": staff.role, "company_id": staff.company_id},
        ip=ip,
        now=now,
    )
    return staff


def make_company_manager(
    session: Session, staff: StaffUser, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """An admin makes a property-staff account its company's manager."""
    return _set_company_manager(session, staff, actor, True, ip=ip, now=now)


def unmake_company_manager(
    session: Session, staff: StaffUser, actor: Actor, *, ip: str = "", now: dt.datetime | None = None
) -> StaffUser:
    """An admin makes a company's manager an ordinary staff member again."""
    return _set_company_manager(session, staff, actor, False, ip=ip, now=now)


def _set_company_manager(
    session: Session, staff: StaffUser, actor: Actor, manager: bool, *, ip: str, now: dt.datetime | None
) -> StaffUser:
    _require_admin(actor)
    if Role(staff.role) is not Role.PROPERTY_STAFF or staff.company_id is None:
        raise ValidationFailed.on("role", "只有物业人员的账号可以设为物业公司管理员")
    staff.company_manager = manager
    action = "staff.make_manager" if manager else "staff.unmake_manager"
    detail = {"company_id": staff.company_id}
    record_audit(session, actor, action, "staff", staff.id, detail=detail, ip=ip, now=now)
    return staff


def list_company_staff(session: Session, company_id: int) -> list[StaffUser]:
    """A company's accounts: active ones first, managers first among them."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.company_id == company_id)
            .order_by(StaffUser.active.desc(), StaffUser.company_manager.desc(), StaffUser.display_name)
        )
    )


def _check_new_password(password: str, *, field: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed.on(field, f"密码至少 {MIN_PASSWORD} 位")


def _count_failure(staff: StaffUser, now: dt.datetime) -> None:
    staff.failed_logins += 1
    if staff.failed_logins >= MAX_FAILED_LOGINS:
        staff.locked_until = now + LOCKOUT
        staff.failed_logins = 0


def _check(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def staff_actor(staff: StaffUser) -> Actor:
    """The Actor a staff member acts as in the case services."""
    if staff.squad is not None:
        where = staff.squad.name
    elif staff.company is not None:
        where = staff.company.name
    else:
        where = "区局" if Role(staff.role) in BUREAU_ROLES else ""
    return Actor(
        Role(staff.role),
        staff.id,
        f"{where} {staff.display_name}".strip()[:64],
        squad_id=staff.squad_id,
        company_id=staff.company_id,
    )


# A staff member's row, read at every console request (whether the account is still active and its session
# current): through Core, in a statement built once, the StaffUser made from it as if loaded; their squad
# (what every page shows beside the name) from the squads kept per process with the estate list. A property
# company loads when first read, for its own staff.
_STAFF = select(*StaffUser.__table__.columns).where(StaffUser.id == bindparam("staff_id"))


def get_staff(session: Session, staff_id: int) -> StaffUser | None:
    if session.autoflush:
        session.flush()
    row = session.connection().execute(_STAFF, {"staff_id": staff_id}).mappings().one_or_none()
    if row is None:
        return None
    staff = as_loaded(session, StaffUser, row)
    if "squad" not in inspect(staff).dict:
        squad = kept_rows(session, Squad).get(row["squad_id"])
        set_committed_value(staff, "squad", as_loaded(session, Squad, squad) if squad is not None else None)
    return staff


def list_staff(session: Session) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser)
            .options(selectinload(StaffUser.squad), selectinload(StaffUser.company))
            .order_by(StaffUser.id)
        )
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


def _unread_notices(actor: Actor) -> Select[StaffNotice] | None:
    """Unread notices addressed to the actor's squad (officers and leaders) or to the bureau; None for
    anyone else."""
    addressed = _addressed_to(actor.role, actor.squad_id)
    return None if addressed is None else select(StaffNotice).where(StaffNotice.read_at.is_(None), addressed)


def _addressed_to(role: Role, squad_id: int | None) -> ColumnElement[bool] | None:
    if role in SQUAD_ROLES:
        return StaffNotice.squad_id == squad_id
    if role in BUREAU_ROLES:
        return StaffNotice.for_bureau.is_(True)
    return None


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """A notice as the inbox lists it."""

    id: int
    kind: str
    text: str
    created_at: dt.datetime


@functools.lru_cache(maxsize=256)
def _notice_lines(role: Role, squad_id: int | None) -> Select[int, str, str, dt.datetime] | None:
    """The statement of the unread notices an actor of `role` (and squad) is listed, newest first: built once
    per squad, as the inbox reads it at every visit."""
    addressed = _addressed_to(role, squad_id)
    if addressed is None:
        return None
    return (
        select(StaffNotice.id, StaffNotice.kind, StaffNotice.text, StaffNotice.created_at)
        .where(StaffNotice.read_at.is_(None), addressed)
        .order_by(StaffNotice.id.desc())
        .limit(bindparam("limit"))
    )


def list_notices(session: Session, actor: Actor, *, limit: int = 20) -> list[NoticeLine]:
    """The actor's unread notices, newest first."""
    statement = _notice_lines(actor.role, actor.squad_id)
    if statement is None:
        return []
    if session.autoflush:
        session.flush()  # as a query through the session would
    # Core on the session's connection: plain rows, without the ORM's execution layer
    return [NoticeLine(*row) for row in session.connection().execute(statement, {"limit": limit})]


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
