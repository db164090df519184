"""Property companies as the bureau keeps them: the credit code, the record, who manages an estate since when,
and a company's manager's power over its own staff accounts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.errors import Conflict, Forbidden, ValidationFailed, is_transient
from backend.org.models import Estate, PropertyCompany
from backend.org.services import import_estates
from backend.property.companies import (
    CREDIT_CODE_CHECK,
    CREDIT_CODE_FORMAT,
    CompanyDetails,
    assign_estate,
    check_credit_code,
    company_on,
    create_company,
    end_management,
    estate_history,
    list_companies,
    update_company,
)
from backend.property.models import EstateManagement
from backend.staff.services import (
    create_company_staff,
    create_staff,
    disable_staff,
    enable_staff,
    make_company_manager,
    staff_actor,
    unmake_company_manager,
)
from backend.workcalendar import SHANGHAI
from tests.support.concurrency import concurrently
from tests.support.property import PASSWORD, estate_named, make_company, make_property_staff

NOW = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
SUPERVISOR = Actor(Role.SUPERVISOR, 9001, "区局 督办")
ADMIN = Actor(Role.ADMIN, 9002, "区局 管理员")
# published examples: python-stdnum's documentation, and the Chinese Wikipedia's article on the code
VALID_CODES = ["91110000600037341L", "91350100M000100Y43"]


def company(
    session: Session, name: str = "青浦示范物业有限公司", code: str = VALID_CODES[0]
) -> PropertyCompany:
    return create_company(
        session, SUPERVISOR, CompanyDetails(name, code, "王经理", "13912345678", "青浦区城中北路1号"), now=NOW
    )


def day(month: int, d: int, year: int = 2024) -> dt.date:
    return dt.date(year, month, d)


# ----------------------------------------------------------------------------------------- credit code


@pytest.mark.parametrize("code", VALID_CODES)
def test_published_credit_codes_are_valid(code: str) -> None:
    assert check_credit_code(code) == code


def test_a_credit_code_is_read_as_typed_lower_case_and_spaced() -> None:
    assert check_credit_code(" 9135 0100m0001 00y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91110000600037341M", CREDIT_CODE_CHECK),  # one wrong check digit
        ("91350100M000100Y44", CREDIT_CODE_CHECK),
        ("91110000600037431L", CREDIT_CODE_CHECK),  # two digits swapped
        ("9111000060003734", CREDIT_CODE_FORMAT),  # too short
        ("91110000600037341L0", CREDIT_CODE_FORMAT),  # too long
        ("91110000600O37341L", CREDIT_CODE_FORMAT),  # the letter O, never used
        ("9111000060003734IL", CREDIT_CODE_FORMAT),  # the letter I
        ("91110000S00037341L", CREDIT_CODE_FORMAT),  # S
        ("9111000060003734VZ", CREDIT_CODE_FORMAT),  # V and Z
        ("９１１１００００６０００３７３４１Ｌ", CREDIT_CODE_FORMAT),  # full-width
    ],
)
def test_a_wrong_credit_code_is_refused_in_chinese(code: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_credit_code(code)
    assert refused.value.message == message
    assert refused.value.errors[0].field == "credit_code"


# ------------------------------------------------------------------------------------------- the record


def test_the_bureau_creates_a_company_and_the_audit_trail_says_who(session: Session) -> None:
    made = company(session)
    assert (made.name, made.credit_code, made.contact_phone, made.active) == (
        "青浦示范物业有限公司",
        VALID_CODES[0],
        "13912345678",
        True,
    )
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "company.create", AuditEntry.target_id == str(made.id))
    ).one()
    assert entry.actor_id == SUPERVISOR.id


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SQUAD_LEADER, Role.EDITOR, Role.PROPERTY_STAFF])
def test_only_the_bureau_creates_or_edits_companies(session: Session, role: Role) -> None:
    someone = Actor(role, 1, "某人", company_id=1)
    with pytest.raises(Forbidden):
        create_company(session, someone, CompanyDetails("某物业", VALID_CODES[0]), now=NOW)
    made = company(session)
    with pytest.raises(Forbidden):
        update_company(
            session, made, someone, CompanyDetails("改名物业", VALID_CODES[0]), active=True, now=NOW
        )


@pytest.mark.parametrize(
    ("details", "field"),
    [
        (CompanyDetails("", VALID_CODES[0]), "name"),
        (CompanyDetails("某物业", ""), "credit_code"),
        (CompanyDetails("某物业", "91110000600037341M"), "credit_code"),
        (CompanyDetails("某物业", VALID_CODES[0], contact_phone="5972"), "contact_phone"),
        (CompanyDetails("某物业", VALID_CODES[0], contact_phone="12345678901"), "contact_phone"),
    ],
)
def test_a_company_needs_a_name_a_valid_code_and_a_real_phone(
    session: Session, details: CompanyDetails, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        create_company(session, SUPERVISOR, details, now=NOW)
    assert refused.value.errors[0].field == field


def test_landlines_and_mobiles_are_both_phones(session: Session) -> None:
    for number, code in zip(["021-59721234", "13812345678"], VALID_CODES, strict=True):
        made = create_company(
            session, SUPERVISOR, CompanyDetails(f"物业{number}", code, contact_phone=number), now=NOW
        )
        assert made.contact_phone == number


def test_name_and_credit_code_are_each_one_companys(session: Session) -> None:
    company(session, "甲物业", VALID_CODES[0])
    with pytest.raises(Conflict) as same_name:
        company(session, "甲物业", VALID_CODES[1])
    assert same_name.value.errors[0].field == "name"
    with pytest.raises(Conflict) as same_code:
        company(session, "乙物业", VALID_CODES[0].lower())
    assert same_code.value.errors[0].field == "credit_code"


def test_an_edit_keeps_its_own_name_and_never_erases_a_code(session: Session) -> None:
    made = company(session)
    update_company(
        session,
        made,
        SUPERVISOR,
        CompanyDetails(made.name, made.credit_code or "", "李经理"),
        active=True,
        now=NOW,
    )
    assert made.contact_name == "李经理"
    with pytest.raises(ValidationFailed) as erased:
        update_company(session, made, SUPERVISOR, CompanyDetails(made.name, ""), active=True, now=NOW)
    assert erased.value.errors[0].field == "credit_code"


def test_a_company_from_the_import_may_be_edited_before_its_code_is_known(session: Session) -> None:
    imported = make_company(session, "导入物业", [])
    update_company(session, imported, ADMIN, CompanyDetails("导入物业", "", "赵经理"), active=True, now=NOW)
    assert imported.credit_code is None and imported.contact_name == "赵经理"


def test_a_company_stops_only_without_estates_or_active_accounts(session: Session) -> None:
    made = company(session)
    assign_estate(session, estate_named(session, "康虹花园"), made, SUPERVISOR, since=day(1, 1), now=NOW)
    staff = make_property_staff(session, made)
    details = CompanyDetails(made.name, made.credit_code or "")
    with pytest.raises(ValidationFailed, match="仍管理 1 个小区、有 1 个启用的账号"):
        update_company(session, made, SUPERVISOR, details, active=False, now=NOW)
    end_management(session, estate_named(session, "康虹花园"), SUPERVISOR, last_day=day(6, 30), now=NOW)
    disable_staff(session, staff, ADMIN, now=NOW)
    update_company(session, made, SUPERVISOR, details, active=False, now=NOW)
    assert made.active is False
    # a stopped company is given no estate and no account, and its accounts stay disabled
    with pytest.raises(ValidationFailed, match="已停用"):
        assign_estate(session, estate_named(session, "康虹花园"), made, SUPERVISOR, now=NOW)
    with pytest.raises(ValidationFailed, match="已停用"):
        create_staff(
            session,
            username="stopped1",
            display_name="某",
            role="property_staff",
            password=PASSWORD,
            company=made,
        )
    with pytest.raises(ValidationFailed, match="已停用"):
        enable_staff(session, staff, ADMIN, now=NOW)


def test_the_list_counts_estates_and_active_accounts(session: Session) -> None:
    made = company(session)
    for name in ("康虹花园", "新青浦花苑"):
        assign_estate(session, estate_named(session, name), made, SUPERVISOR, since=day(1, 1), now=NOW)
    make_property_staff(session, made)
    row = next(r for r in list_companies(session) if r.company.id == made.id)
    assert (row.estates, row.accounts) == (2, 1)


# ------------------------------------------------------------------------- who manages an estate since when


def open_spells(session: Session, estate: Estate) -> list[EstateManagement]:
    return list(
        session.scalars(
            select(EstateManagement).where(
                EstateManagement.estate_id == estate.id, EstateManagement.ended_on.is_(None)
            )
        )
    )


def test_a_handover_ends_the_old_spell_the_day_before_and_the_estate_follows(session: Session) -> None:
    estate = estate_named(session, "康虹花园")
    first, second = company(session, "甲物业", VALID_CODES[0]), company(session, "乙物业", VALID_CODES[1])
    assign_estate(session, estate, first, SUPERVISOR, since=day(1, 1), now=NOW)
    assign_estate(session, estate, second, SUPERVISOR, since=day(6, 1), now=NOW)

    assert estate.property_company_id == second.id
    _estate, spells = estate_history(session, estate.id)
    assert [(s.company_id, s.started_on, s.ended_on) for s in spells] == [
        (second.id, day(6, 1), None),
        (first.id, day(1, 1), day(5, 31)),
    ]
    assert company_on(session, estate.id, day(12, 31, 2023)) is None
    assert company_on(session, estate.id, day(1, 1)) is first
    assert company_on(session, estate.id, day(5, 31)) is first
    assert company_on(session, estate.id, day(6, 1)) is second
    assert company_on(session, estate.id, TODAY) is second
    assert len(open_spells(session, estate)) == 1
    assigned = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "estate.assign", AuditEntry.target_id == str(estate.id))
    ).all()
    assert assigned[-1].detail == {
        "company_id": second.id,
        "since": "2024-06-01",
        "previous_company_id": first.id,
    }


def test_ending_a_management_without_a_successor(session: Session) -> None:
    estate = estate_named(session, "康虹花园")
    made = company(session)
    assign_estate(session, estate, made, SUPERVISOR, since=day(1, 1), now=NOW)
    end_management(session, estate, SUPERVISOR, last_day=day(9, 30), now=NOW)
    assert estate.property_company_id is None
    assert company_on(session, estate.id, day(9, 30)) is made
    assert company_on(session, estate.id, day(10, 1)) is None
    assert open_spells(session, estate) == []
    with pytest.raises(Conflict):  # nothing left to end
        end_management(session, estate, SUPERVISOR, now=NOW)
    # the next company takes over after the last day, never within the ended spell
    other = company(session, "乙物业", VALID_CODES[1])
    with pytest.raises(ValidationFailed, match="2024-09-30"):
        assign_estate(session, estate, other, SUPERVISOR, since=day(9, 15), now=NOW)
    assign_estate(session, estate, other, SUPERVISOR, since=day(11, 1), now=NOW)
    assert company_on(session, estate.id, day(10, 15)) is None
    assert company_on(session, estate.id, day(11, 1)) is other


def test_spells_never_overlap_and_never_start_tomorrow(session: Session) -> None:
    estate = estate_named(session, "康虹花园")
    first, second = company(session, "甲物业", VALID_CODES[0]), company(session, "乙物业", VALID_CODES[1])
    assign_estate(session, estate, first, SUPERVISOR, since=day(6, 1), now=NOW)
    with pytest.raises(ValidationFailed, match="2024-06-01") as before_current:
        assign_estate(session, estate, second, SUPERVISOR, since=day(5, 1), now=NOW)
    assert before_current.value.errors[0].field == "since"
    with pytest.raises(ValidationFailed, match="晚于今天"):
        assign_estate(session, estate, second, SUPERVISOR, since=TODAY + dt.timedelta(days=1), now=NOW)
    with pytest.raises(Conflict):  # already the estate's company
        assign_estate(session, estate, first, SUPERVISOR, since=day(7, 1), now=NOW)
    with pytest.raises(ValidationFailed, match="早于接管日期"):
        end_management(session, estate, SUPERVISOR, last_day=day(5, 1), now=NOW)
    with pytest.raises(ValidationFailed, match="晚于今天"):
        end_management(session, estate, SUPERVISOR, last_day=TODAY + dt.timedelta(days=1), now=NOW)
    assert [s.company_id for s in open_spells(session, estate)] == [first.id]


def test_a_handover_on_the_day_the_spell_began_corrects_a_mistake(session: Session) -> None:
    estate = estate_named(session, "康虹花园")
    wrong, right = company(session, "错物业", VALID_CODES[0]), company(session, "对物业", VALID_CODES[1])
    assign_estate(session, estate, wrong, SUPERVISOR, since=day(3, 1), now=NOW)
    assign_estate(session, estate, right, SUPERVISOR, since=day(3, 1), now=NOW)
    _estate, spells = estate_history(session, estate.id)
    assert [(s.company_id, s.started_on, s.ended_on) for s in spells] == [(right.id, day(3, 1), None)]
    assert company_on(session, estate.id, day(3, 1)) is right


def test_only_the_bureau_assigns_or_ends(session: Session) -> None:
    estate = estate_named(session, "康虹花园")
    made = company(session)
    for role in (Role.OFFICER, Role.PROPERTY_STAFF, Role.EDITOR):
        with pytest.raises(Forbidden):
            assign_estate(session, estate, made, Actor(role, 1, "某人"), now=NOW)
    assign_estate(session, estate, made, ADMIN, now=NOW)
    with pytest.raises(Forbidden):
        end_management(session, estate, Actor(Role.PROPERTY_STAFF, 1, "某人", company_id=made.id), now=NOW)


def test_the_estate_import_assigns_through_the_history(session: Session) -> None:
    rows = "estate,street_or_town,address,property_company\n导入花园,赵巷镇,,导入甲物业\n"
    import_estates(session, list(csv.DictReader(io.StringIO(rows))))
    estate = estate_named(session, "导入花园")
    first = estate.property_company
    assert first is not None and first.name == "导入甲物业"
    _estate, spells = estate_history(session, estate.id)
    assert [(s.company_id, s.ended_on) for s in spells] == [(first.id, None)]
    assert session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "estate.assign", AuditEntry.actor_kind == "system")
        .where(AuditEntry.target_id == str(estate.id))
    )
    # a later import naming another company hands the estate over; still one open spell
    rows = "estate,street_or_town,address,property_company\n导入花园,赵巷镇,,导入乙物业\n"
    import_estates(session, list(csv.DictReader(io.StringIO(rows))))
    assert estate.property_company is not None and estate.property_company.name == "导入乙物业"
    assert [s.company_id for s in open_spells(session, estate)] == [estate.property_company.id]


def test_two_assignments_at_once_leave_one_company(app) -> None:
    """Committed for real from two threads: the estate's row is the turnstile, so the second assignment sees
    the first's spell, and the estate ends with one open spell, the one its row names."""
    engine = app.extensions["db"].engine
    tag = uuid.uuid4().hex[:6]
    with Session(engine) as session:
        estate = Estate(name=f"并发花园{tag}", town_id=estate_named(session, "康虹花园").town_id)
        companies = [PropertyCompany(name=f"并发物业{tag}{i}", active=True) for i in range(4)]
        session.add_all([estate, *companies])
        session.flush()
        assign_estate(session, estate, companies[0], SUPERVISOR, since=day(1, 1), now=NOW)
        session.commit()
        estate_id, company_ids = estate.id, [c.id for c in companies]

    def assign(i: int) -> int:
        with Session(engine) as session:
            assign_estate(
                session,
                session.get_one(Estate, estate_id),
                session.get_one(PropertyCompany, company_ids[i + 1]),
                SUPERVISOR,
                since=day(6, 1),
                now=NOW,
            )
            session.commit()
            return i

    try:
        results = concurrently(3, assign)
        # on MariaDB a transaction whose snapshot predates the winner's commit may be told to retry (1020)
        assert not [r for r in results if isinstance(r, Exception) and not is_transient(r)], results
        assert any(isinstance(r, int) for r in results), results
        with Session(engine) as session:
            estate = session.get_one(Estate, estate_id)
            spells = open_spells(session, estate)
            assert len(spells) == 1
            assert spells[0].company_id == estate.property_company_id
            history = session.scalars(
                select(EstateManagement).where(EstateManagement.estate_id == estate_id)
            ).all()
            assert {(s.company_id, s.ended_on) for s in history} == {
                (company_ids[0], day(5, 31)),
                (estate.property_company_id, None),
            }
    finally:
        with engine.begin() as conn:
            conn.execute(
                delete(AuditEntry).where(
                    AuditEntry.target_type == "estate", AuditEntry.target_id == str(estate_id)
                )
            )
            conn.execute(delete(EstateManagement).where(EstateManagement.estate_id == estate_id))
            conn.execute(delete(Estate).where(Estate.id == estate_id))
            conn.execute(delete(PropertyCompany).where(PropertyCompany.id.in_(company_ids)))


# ------------------------------------------------------------------------ a company's manager and its staff


def test_a_manager_creates_and_disables_staff_of_their_own_company_only(session: Session) -> None:
    mine, theirs = make_company(session, "甲物业", []), make_company(session, "乙物业", [])
    manager = make_property_staff(session, mine, manager=True)
    their_staff = make_property_staff(session, theirs)
    other_manager = make_property_staff(session, mine, manager=True)
    acting = staff_actor(manager)

    staff = create_company_staff(
        session,
        acting,
        username=f"new_{uuid.uuid4().hex[:6]}",
        display_name="新员工",
        password=PASSWORD,
        now=NOW,
    )
    assert (staff.role, staff.company_id, staff.company_manager) == ("property_staff", mine.id, False)
    assert (
        session.scalar(
            select(AuditEntry.actor_id).where(
                AuditEntry.action == "staff.create", AuditEntry.target_id == str(staff.id)
            )
        )
        == manager.id
    )

    version = staff.session_version
    disable_staff(session, staff, acting, now=NOW)
    session.refresh(staff)
    assert staff.active is False and staff.session_version == version + 1  # every session of it ended
    enable_staff(session, staff, acting, now=NOW)
    assert staff.active is True

    for target in (their_staff, other_manager, manager):  # another company's, another manager, themself
        with pytest.raises(Forbidden):
            disable_staff(session, target, acting, now=NOW)
        assert target.active is True


def test_only_a_manager_creates_company_staff(session: Session) -> None:
    mine = make_company(session, "甲物业", [])
    plain = make_property_staff(session, mine)
    for actor in (staff_actor(plain), SUPERVISOR, Actor(Role.OFFICER, 1, "队员", squad_id=1)):
        with pytest.raises(Forbidden):
            create_company_staff(session, actor, username="nobody1", display_name="某", password=PASSWORD)
        with pytest.raises(Forbidden):
            disable_staff(session, make_property_staff(session, mine), actor, now=NOW)


def test_an_admin_makes_and_unmakes_a_manager_and_the_power_follows_at_once(session: Session) -> None:
    mine = make_company(session, "甲物业", [])
    staff, colleague = make_property_staff(session, mine), make_property_staff(session, mine)
    with pytest.raises(Forbidden):
        disable_staff(session, colleague, staff_actor(staff), now=NOW)
    make_company_manager(session, staff, ADMIN, now=NOW)
    disable_staff(session, colleague, staff_actor(staff), now=NOW)
    unmake_company_manager(session, staff, ADMIN, now=NOW)
    with pytest.raises(Forbidden):
        enable_staff(session, colleague, staff_actor(staff), now=NOW)
    with pytest.raises(Forbidden):  # only an admin
        make_company_manager(session, colleague, SUPERVISOR, now=NOW)
    officer = create_staff(
        session,
        username=f"off_{uuid.uuid4().hex[:6]}",
        display_name="队员",
        role="officer",
        password=PASSWORD,
        squad=estate_named(session, "康虹花园").town.squad,
    )
    with pytest.raises(ValidationFailed):  # only a property-staff account
        make_company_manager(session, officer, ADMIN, now=NOW)
