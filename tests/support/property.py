"""Property companies for the tests: a company managing some estates, its staff, a staff member bound to a
WeChat user. Built directly on the models, so that each area's tests do not depend on another's services."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.org.models import Estate, PropertyCompany
from backend.property.models import EstateManagement
from backend.staff.models import StaffUser
from backend.staff.services import create_staff
from tests.support.accounts import make_resident

PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


def estate_named(session: Session, name: str) -> Estate:
    return session.scalars(select(Estate).where(Estate.name == name)).one()


def make_company(
    session: Session, name: str, estates: list[str], *, since: dt.date | None = None
) -> PropertyCompany:
    """A company managing the named (seeded) estates since `since`."""
    company = PropertyCompany(
        name=name, credit_code=None, contact_name="张经理", contact_phone="021-59720000"
    )
    session.add(company)
    session.flush()
    for estate_name in estates:
        estate = estate_named(session, estate_name)
        estate.property_company = company
        session.add(EstateManagement(estate=estate, company=company, started_on=since or dt.date(2024, 1, 1)))
    session.flush()
    return company


def make_property_staff(
    session: Session, company: PropertyCompany, *, manager: bool = False, name: str = ""
) -> StaffUser:
    number = next(_numbers)
    staff = create_staff(
        session,
        username=f"pm_{company.id}_{number}",
        display_name=name or f"物业{number}",
        role="property_staff",
        password=PASSWORD,
        company=company,
    )
    staff.company_manager = manager
    session.flush()
    return staff


def bind(session: Session, staff: StaffUser, nickname: str | None = None) -> tuple[User, str]:
    """A mini-program user bound to `staff` (as a used one-time code leaves them), and their bearer token."""
    user, token = make_resident(session, nickname or f"staff{staff.id}")
    staff.wechat_user_id = user.id
    session.flush()
    return user, token
