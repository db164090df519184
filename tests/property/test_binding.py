"""Binding a WeChat account to a property-staff account with a one-time code: the code, its one use, its ten
minutes, and what the binding gives the mini-program user."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.errors import Conflict, Forbidden, ValidationFailed, is_transient
from backend.org.models import PropertyCompany, Squad
from backend.property.binding import (
    CODE_ALPHABET,
    CODE_LENGTH,
    REFUSED,
    bind_wechat,
    bound_account,
    issue_binding_code,
    unbind_wechat,
)
from backend.property.models import BindingCode
from backend.property.staff import property_actor
from backend.staff.models import StaffUser
from backend.staff.services import create_staff, disable_staff, staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently
from tests.support.console import PASSWORD
from tests.support.property import make_company, make_property_staff

NOW = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def company(session: Session) -> PropertyCompany:
    return make_company(session, "绑定测试物业", ["康虹花园"])


@pytest.fixture
def staff(session: Session, company: PropertyCompany) -> StaffUser:
    return make_property_staff(session, company, name="钱物业")


def refused(session: Session, user: User, code: str, *, now: dt.datetime = NOW) -> str:
    with pytest.raises(ValidationFailed) as exc:
        bind_wechat(session, user, code, now=now)
    assert exc.value.errors[0].field == "code"
    return exc.value.message


def audit_details(session: Session, action: str, staff: StaffUser) -> list[dict]:
    return [
        e.detail
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.target_id == str(staff.id))
            .order_by(AuditEntry.id)
        )
    ]


def test_a_code_is_short_unambiguous_and_only_its_hash_is_kept(session: Session, staff: StaffUser) -> None:
    code = issue_binding_code(session, staff, now=NOW)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("0O1IL5S2Z")
    row = session.scalars(select(BindingCode).where(BindingCode.staff_id == staff.id)).one()
    assert row.code_hash == hashlib.sha256(code.encode()).hexdigest() and code not in row.code_hash
    assert row.expires_at == NOW + 10 * MINUTE and row.used_at is None
    assert audit_details(session, "staff.binding_code", staff) == [{}]


def test_binding_with_a_valid_code_gives_the_user_the_companys_scope(
    session: Session, staff: StaffUser, company: PropertyCompany
) -> None:
    user, _token = make_resident(session, "wx_qian")
    with pytest.raises(Forbidden):
        property_actor(session, user)
    code = issue_binding_code(session, staff, now=NOW)
    bound = bind_wechat(session, user, code, now=NOW + 9 * MINUTE)
    assert bound is staff and staff.wechat_user_id == user.id
    actor = property_actor(session, user)
    assert (actor.id, actor.company_id) == (staff.id, company.id)
    assert bound_account(session, user) is staff
    assert audit_details(session, "staff.wechat_bind", staff) == [{"user_id": user.id}]
    assert session.scalar(select(BindingCode.used_at).where(BindingCode.staff_id == staff.id)) is not None


def test_a_code_is_read_as_typed_with_spaces_and_in_lower_case(session: Session, staff: StaffUser) -> None:
    user, _ = make_resident(session, "wx_lower")
    code = issue_binding_code(session, staff, now=NOW)
    bind_wechat(session, user, f" {code[:4].lower()} {code[4:]} ", now=NOW)
    assert staff.wechat_user_id == user.id


def test_expired_unknown_reused_and_voided_codes_get_one_answer(session: Session, staff: StaffUser) -> None:
    user, _ = make_resident(session, "wx_refused")
    code = issue_binding_code(session, staff, now=NOW)
    answers = {
        "expired": refused(session, user, code, now=NOW + 10 * MINUTE),
        "unknown": refused(session, user, "ABCDEFGH"),
        "garbage": refused(session, user, "不是绑定码"),
    }
    voided = code
    fresh = issue_binding_code(session, staff, now=NOW)  # a new code voids the older one
    answers["voided"] = refused(session, user, voided)
    bind_wechat(session, user, fresh, now=NOW)
    other, _ = make_resident(session, "wx_second")
    answers["reused"] = refused(session, other, fresh)
    assert set(answers.values()) == {REFUSED}
    assert staff.wechat_user_id == user.id  # the reused code moved nothing


def test_the_code_of_a_disabled_account_binds_nothing(session: Session, staff: StaffUser) -> None:
    code = issue_binding_code(session, staff, now=NOW)
    disable_staff(
        session, staff, staff_actor(make_property_staff(session, staff.company, manager=True)), now=NOW
    )
    user, _ = make_resident(session, "wx_disabled")
    assert refused(session, user, code) == REFUSED
    with pytest.raises(Conflict):  # and it gets no new code
        issue_binding_code(session, staff, now=NOW)


def test_only_property_staff_get_codes(session: Session) -> None:
    officer = create_staff(
        session,
        username=f"bind_officer_{uuid.uuid4().hex[:6]}",
        display_name="队员",
        role="officer",
        password=PASSWORD,
        squad=session.scalars(select(Squad)).first(),
    )
    with pytest.raises(Conflict):
        issue_binding_code(session, officer, now=NOW)


def test_a_user_bound_elsewhere_is_moved_and_an_account_bound_to_another_user_is_taken(
    session: Session, staff: StaffUser, company: PropertyCompany
) -> None:
    """Another company's code: the user moves to that company's account, and the audit trail says so; the
    account's previous WeChat user loses its scope."""
    other_company = make_company(session, "另一家物业", [])
    elsewhere = make_property_staff(session, other_company)
    user, _ = make_resident(session, "wx_mover")
    bind_wechat(session, user, issue_binding_code(session, elsewhere, now=NOW), now=NOW)
    assert property_actor(session, user).company_id == other_company.id

    bind_wechat(session, user, issue_binding_code(session, staff, now=NOW), now=NOW)
    assert elsewhere.wechat_user_id is None and staff.wechat_user_id == user.id
    assert property_actor(session, user).company_id == company.id
    assert audit_details(session, "staff.wechat_bind", staff)[-1] == {
        "user_id": user.id,
        "moved_from_staff_id": elsewhere.id,
    }

    new_phone, _ = make_resident(session, "wx_newphone")
    bind_wechat(session, new_phone, issue_binding_code(session, staff, now=NOW), now=NOW)
    assert staff.wechat_user_id == new_phone.id
    assert audit_details(session, "staff.wechat_bind", staff)[-1] == {
        "user_id": new_phone.id,
        "replaced_user_id": user.id,
    }
    with pytest.raises(Forbidden):
        property_actor(session, user)


def test_unbinding_from_either_side_ends_the_scope(session: Session, staff: StaffUser) -> None:
    user, _ = make_resident(session, "wx_unbind")
    bind_wechat(session, user, issue_binding_code(session, staff, now=NOW), now=NOW)
    assert unbind_wechat(session, user, via="miniprogram", now=NOW) is staff
    assert staff.wechat_user_id is None
    with pytest.raises(Forbidden):
        property_actor(session, user)
    assert unbind_wechat(session, user, via="miniprogram", now=NOW) is None  # nothing left to unbind

    bind_wechat(session, user, issue_binding_code(session, staff, now=NOW), now=NOW)
    assert unbind_wechat(session, staff, via="console", now=NOW) is staff
    with pytest.raises(Forbidden):
        property_actor(session, user)
    assert [d["via"] for d in audit_details(session, "staff.wechat_unbind", staff)] == [
        "miniprogram",
        "console",
    ]


def test_disabling_the_account_ends_the_scope_without_unbinding(session: Session, staff: StaffUser) -> None:
    user, _ = make_resident(session, "wx_disable")
    bind_wechat(session, user, issue_binding_code(session, staff, now=NOW), now=NOW)
    manager = make_property_staff(session, staff.company, manager=True)
    disable_staff(session, staff, staff_actor(manager), now=NOW)
    with pytest.raises(Forbidden):
        property_actor(session, user)
    assert staff.wechat_user_id == user.id  # bound still: enabling the account again restores the scope


def test_one_code_typed_by_many_at_once_binds_once(app) -> None:
    """Committed for real from eight threads: the claim is one UPDATE that only an unused code passes."""
    engine = app.extensions["db"].engine
    tag = uuid.uuid4().hex[:6]
    with Session(engine) as session:
        company = PropertyCompany(name=f"并发绑定物业{tag}", active=True)
        session.add(company)
        session.flush()
        staff = create_staff(
            session,
            username=f"bind_race_{tag}",
            display_name="并发",
            role="property_staff",
            password=PASSWORD,
            company=company,
        )
        users = [User(openid=f"bind-race-{tag}-{i}", nickname="并发") for i in range(8)]
        session.add_all(users)
        session.flush()
        code = issue_binding_code(session, staff, now=NOW)
        session.commit()
        staff_id, company_id, user_ids = staff.id, company.id, [u.id for u in users]

    def bind(i: int) -> int:
        with Session(engine) as session:
            bind_wechat(session, session.get_one(User, user_ids[i]), code, now=NOW)
            session.commit()
            return user_ids[i]

    try:
        results = concurrently(8, bind)
        bound = [r for r in results if isinstance(r, int)]
        assert len(bound) == 1, results
        # the others are refused, or on MariaDB told to retry (their snapshot predates the winner's commit)
        assert all(
            isinstance(r, ValidationFailed) or is_transient(r) for r in results if not isinstance(r, int)
        )
        with Session(engine) as session:
            assert session.get_one(StaffUser, staff_id).wechat_user_id == bound[0]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(BindingCode).where(BindingCode.staff_id == staff_id))
        purge_users(engine, user_ids, [staff_id])
        with engine.begin() as conn:
            conn.execute(delete(PropertyCompany).where(PropertyCompany.id == company_id))
