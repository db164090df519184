"""Console fixtures: one account per role (the helpers that log them in are in tests/support/console.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import PropertyCompany, Squad
from backend.staff.models import StaffUser
from backend.staff.services import create_staff
from tests.support.console import PASSWORD


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    """Argon2 with its production cost makes hundreds of test logins slow; the algorithm stays the same."""
    from argon2 import PasswordHasher

    import backend.staff.services as staff_services

    staff_services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    staff_services._DUMMY_HASH = staff_services._hasher.hash("not-a-real-password")


@dataclass
class Accounts:
    by_name: dict[str, StaffUser]

    def __getitem__(self, name: str) -> StaffUser:
        return self.by_name[name]


@pytest.fixture
def accounts(session: Session) -> Accounts:
    squads = {s.code: s for s in session.scalars(select(Squad))}
    company = PropertyCompany(name="测试物业服务有限公司")
    other_company = PropertyCompany(name="另一家物业服务有限公司（账号表）")
    session.add_all([company, other_company])
    session.flush()
    specs = {
        "officer": ("officer", squads["xujing"], None),
        "leader": ("squad_leader", squads["xujing"], None),
        "officer2": ("officer", squads["xujing"], None),
        "other_officer": ("officer", squads["xiayang"], None),
        "supervisor": ("supervisor", None, None),
        "admin": ("admin", None, None),
        "editor": ("editor", None, None),
        "property": ("property_staff", None, company),
        "manager": ("property_staff", None, company),
        "other_property": ("property_staff", None, other_company),
    }
    made = {
        name: create_staff(
            session,
            username=f"t_{name}",
            display_name={"officer": "张队员", "leader": "李队长", "officer2": "王队员"}.get(name, name),
            role=role,
            password=PASSWORD,
            squad=squad,
            company=company,
        )
        for name, (role, squad, company) in specs.items()
    }
    made["manager"].company_manager = True
    session.commit()
    return Accounts(made)
