"""Property staff in the mini-program: the console account a WeChat user is bound to, and the scope it acts in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.cases.workflow import Actor, Role
from backend.errors import Forbidden
from backend.staff.models import StaffUser
from backend.staff.services import staff_actor


def bound_staff(session: Session, user: User) -> StaffUser | None:
    """The active property-staff account `user` is bound to, or None (never bound, unbound, or disabled:
    both take effect at the next request)."""
    staff = session.scalar(
        select(StaffUser)
        .where(StaffUser.wechat_user_id == user.id)
        .options(selectinload(StaffUser.company), selectinload(StaffUser.squad))
    )
    if (
        staff is None
        or not staff.active
        or Role(staff.role) is not Role.PROPERTY_STAFF
        or staff.company_id is None
    ):
        return None
    return staff


def property_actor(session: Session, user: User) -> Actor:
    """The Actor of a mini-program user acting for their property company; Forbidden for anyone else."""
    staff = bound_staff(session, user)
    if staff is None:
        raise Forbidden("请先在物业管理后台获取绑定码，绑定您的物业工作账号", code="not_property_staff")
    return staff_actor(staff)
