"""Property companies as the bureau keeps them: their record (name, 统一社会信用代码, contact), the estates each
manages with the dates they changed hands, and who managed an estate on a given day.

A spell of management runs from `started_on` to `ended_on`, both days included (an open spell has no end):
an estate handed over on day D was the old company's until D - 1 and is the new one's from D, so at most one
spell covers any day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload
from stdnum.cn import uscc

from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.db import utcnow
from backend.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from backend.org.models import Estate, PropertyCompany
from backend.property.models import EstateManagement
from backend.staff.models import StaffUser
from backend.text import PHONE, PHONE_MESSAGE
from backend.workcalendar import SHANGHAI

# a mainland mobile, or a landline with its area code (the rule of the mini-program's and the hotline's phones)
CREDIT_CODE_FORMAT = "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）"
CREDIT_CODE_CHECK = "统一社会信用代码的校验位不对，请核对后重新填写"
NAME_MAX, CONTACT_MAX, ADDRESS_MAX = 128, 64, 255
ONE_DAY = dt.timedelta(days=1)


# ------------------------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class CompanyDetails:
    """What the bureau records of a company; text already normalised by the form that read it."""

    name: str
    credit_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""


def check_credit_code(text: str) -> str:
    """The 统一社会信用代码 in `text` (spaces and hyphens dropped, letters made upper case), if its check digit
    (GB 32100-2015) is right; ValidationFailed on the field `credit_code` otherwise. Companies are registered
    by the market regulator, so their codes begin with digits, as python-stdnum checks."""
    code = uscc.compact(text)
    try:
        return str(uscc.validate(code))
    except uscc.InvalidChecksum:
        raise ValidationFailed.on("credit_code", CREDIT_CODE_CHECK) from None
    except uscc.ValidationError:
        raise ValidationFailed.on("credit_code", CREDIT_CODE_FORMAT) from None


def create_company(
    session: Session, actor: Actor, details: CompanyDetails, *, ip: str = "", now: dt.datetime | None = None
) -> PropertyCompany:
    """The bureau records a new company; its name and credit code are each one company's only."""
    _require_bureau(actor)
    company = PropertyCompany(active=True)
    _apply(session, company, details, require_code=True)
    _flush_unique(session, company)
    record_audit(session, actor, "company.create", "property_company", company.id, ip=ip, now=now)
    return company


def update_company(
    session: Session,
    company: PropertyCompany,
    actor: Actor,
    details: CompanyDetails,
    *,
    active: bool,
    ip: str = "",
    now: dt.datetime | None = None,
) -> PropertyCompany:
    """The bureau corrects a company's record, or stops or restarts it. A code once recorded is never erased
    (a company from the estate import may have none yet). A company stops only when it manages no estate and
    has no active account: an estate with a stopped company, or staff filing for one, would be a lie."""
    _require_bureau(actor)
    _apply(session, company, details, require_code=company.credit_code is not None)
    if company.active and not active:
        _check_can_stop(session, company)
    company.active = active
    _flush_unique(session, company)
    record_audit(
        session,
        actor,
        "company.update",
        "property_company",
        company.id,
        detail={"active": active},
        ip=ip,
        now=now,
    )
    return company


def _apply(
    session: Session, company: PropertyCompany, details: CompanyDetails, *, require_code: bool
) -> None:
    name, code, phone = _checked(details, require_code=require_code)
    if _another_has(session, company, PropertyCompany.name, name):
        raise _taken("name", "已有同名的物业公司")
    if code and _another_has(session, company, PropertyCompany.credit_code, code):
        raise _taken("credit_code", "这个统一社会信用代码已登记给另一家物业公司")
    company.name, company.credit_code = name, code
    company.contact_name, company.contact_phone = details.contact_name.strip(), phone
    company.address = details.address.strip()


def _checked(details: CompanyDetails, *, require_code: bool) -> tuple[str, str | None, str]:
    """The name, the credit code (None if not given) and the phone, each checked."""
    name = details.name.strip()
    if not name:
        raise ValidationFailed.on("name", "请填写公司名称")
    if len(name) > NAME_MAX:
        raise ValidationFailed.on("name", f"公司名称最多 {NAME_MAX} 个字符")
    code: str | None = None
    if details.credit_code.strip():
        code = check_credit_code(details.credit_code)
    elif require_code:
        raise ValidationFailed.on("credit_code", "请填写统一社会信用代码")
    phone = details.contact_phone.strip()
    if phone and not PHONE.fullmatch(phone):
        raise ValidationFailed.on("contact_phone", PHONE_MESSAGE)
    if len(details.contact_name.strip()) > CONTACT_MAX:
        raise ValidationFailed.on("contact_name", f"联系人最多 {CONTACT_MAX} 个字符")
    if len(details.address.strip()) > ADDRESS_MAX:
        raise ValidationFailed.on("address", f"地址最多 {ADDRESS_MAX} 个字符")
    return name, code, phone


def _another_has(session: Session, company: PropertyCompany, column: Any, value: str) -> bool:
    query = select(PropertyCompany.id).where(column == value)
    if company.id is not None:
        query = query.where(PropertyCompany.id != company.id)
    return session.scalar(query.limit(1)) is not None


def _flush_unique(session: Session, company: PropertyCompany) -> None:
    try:
        with (
            session.begin_nested()
        ):  # the same name or code recorded by a request that committed after our check
            session.add(company)
            session.flush()
    except IntegrityError:
        raise _taken("name", "已有同名或同一统一社会信用代码的物业公司") from None


def _taken(field: str, message: str) -> Conflict:
    return Conflict(message, code="company_taken", errors=[FieldError(field=field, message=message)])


def _check_can_stop(session: Session, company: PropertyCompany) -> None:
    estates = session.scalar(
        select(func.count()).select_from(Estate).where(Estate.property_company_id == company.id)
    )
    accounts = session.scalar(
        select(func.count())
        .select_from(StaffUser)
        .where(StaffUser.company_id == company.id, StaffUser.active)
    )
    if estates or accounts:
        raise ValidationFailed.on(
            "active",
            f"该公司仍管理 {estates} 个小区、有 {accounts} 个启用的账号：请先结束其管理、停用其账号，再停用公司",
        )


def get_company(session: Session, company_id: int) -> PropertyCompany:
    company = session.get(PropertyCompany, company_id)
    if company is None:
        raise NotFound("没有这家物业公司")
    return company


@dataclass(frozen=True)
class CompanyRow:
    company: PropertyCompany
    estates: int  # managed today
    accounts: int  # active staff accounts


def list_companies(session: Session) -> list[CompanyRow]:
    """Every company, active ones first, with how many estates it manages and active accounts it has."""
    estates = (
        select(Estate.property_company_id.label("company_id"), func.count().label("n"))
        .group_by(Estate.property_company_id)
        .subquery()
    )
    accounts = (
        select(StaffUser.company_id.label("company_id"), func.count().label("n"))
        .where(StaffUser.active)
        .group_by(StaffUser.company_id)
        .subquery()
    )
    rows = session.execute(
        select(PropertyCompany, func.coalesce(estates.c.n, 0), func.coalesce(accounts.c.n, 0))
        .outerjoin(estates, estates.c.company_id == PropertyCompany.id)
        .outerjoin(accounts, accounts.c.company_id == PropertyCompany.id)
        .order_by(PropertyCompany.active.desc(), PropertyCompany.name)
    )
    return [CompanyRow(company, n_estates, n_accounts) for company, n_estates, n_accounts in rows]


@dataclass(frozen=True)
class CompanyOverview:
    company: PropertyCompany
    spells: list[EstateManagement]  # the estates it manages today, each with the day it took them over
    staff: list[StaffUser]


def company_overview(session: Session, company_id: int) -> CompanyOverview:
    """A company's record, the estates it manages today and its staff accounts."""
    company = get_company(session, company_id)
    spells = session.scalars(
        select(EstateManagement)
        .join(EstateManagement.estate)
        .where(EstateManagement.company_id == company.id, EstateManagement.ended_on.is_(None))
        .options(selectinload(EstateManagement.estate).selectinload(Estate.town))
        .order_by(Estate.name, Estate.id)
    )
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.company_id == company.id)
        .order_by(StaffUser.active.desc(), StaffUser.company_manager.desc(), StaffUser.display_name)
    )
    return CompanyOverview(company, list(spells), list(staff))


def estate_choices(session: Session) -> list[Estate]:
    """Every estate, by town, with its company today: what the bureau assigns from."""
    return list(
        session.scalars(
            select(Estate)
            .options(selectinload(Estate.town), selectinload(Estate.property_company))
            .order_by(Estate.town_id, Estate.name, Estate.id)
        )
    )


# ------------------------------------------------------------------------------ who manages an estate


def assign_estate(
    session: Session,
    estate: Estate,
    company: PropertyCompany,
    actor: Actor,
    *,
    since: dt.date | None = None,
    ip: str = "",
    now: dt.datetime | None = None,
) -> EstateManagement:
    """`company` manages `estate` from the day `since` (today if not given, never a day to come): the spell of
    the company managing it until then ends the day before, and Estate.property_company follows. The estate's
    row is locked first, so two assignments at once take turns and the second sees the first's spell. Handing
    over on the very day the current spell began corrects a mistake: that spell is dropped (the audit trail
    keeps it)."""
    _require_bureau_or_system(actor)
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    since = since or today
    if since > today:
        raise ValidationFailed.on("since", "交接日期不能晚于今天")
    if not company.active:
        raise ValidationFailed.on("company", "这家物业公司已停用")
    if company.id is None:
        session.flush()
    spells = _lock_history(session, estate)
    current = next((s for s in spells if s.ended_on is None), None)
    if current is not None and current.company_id == company.id:
        raise Conflict(f"该小区已由{company.name}管理", code="already_managed")
    _check_after_history(spells, since)
    detail: dict[str, object] = {"company_id": company.id, "since": since.isoformat()}
    if current is not None:
        detail["previous_company_id"] = current.company_id
        if current.started_on == since:
            detail["dropped_spell_since"] = current.started_on.isoformat()
            session.delete(current)
        else:
            current.ended_on = since - ONE_DAY
    spell = EstateManagement(estate_id=estate.id, company_id=company.id, started_on=since, created_at=now)
    session.add(spell)
    estate.property_company = company
    session.flush()
    record_audit(session, actor, "estate.assign", "estate", estate.id, detail=detail, ip=ip, now=now)
    return spell


def end_management(
    session: Session,
    estate: Estate,
    actor: Actor,
    *,
    last_day: dt.date | None = None,
    ip: str = "",
    now: dt.datetime | None = None,
) -> EstateManagement:
    """The company managing `estate` stops on `last_day` (today if not given) with no successor: from the
    next day on, the estate has no company."""
    _require_bureau(actor)
    now = now or utcnow()
    last_day = last_day or now.astimezone(SHANGHAI).date()
    if last_day > now.astimezone(SHANGHAI).date():
        raise ValidationFailed.on("last_day", "结束日期不能晚于今天")
    spells = _lock_history(session, estate)
    current = next((s for s in spells if s.ended_on is None), None)
    if current is None:
        raise Conflict("该小区目前没有物业公司", code="not_managed")
    if last_day < current.started_on:
        raise ValidationFailed.on("last_day", f"结束日期不能早于接管日期 {current.started_on.isoformat()}")
    current.ended_on = last_day
    estate.property_company = None
    session.flush()
    record_audit(
        session,
        actor,
        "estate.end_management",
        "estate",
        estate.id,
        detail={"company_id": current.company_id, "last_day": last_day.isoformat()},
        ip=ip,
        now=now,
    )
    return current


def _lock_history(session: Session, estate: Estate) -> list[EstateManagement]:
    """Lock the estate's row, then read its spells afresh with a locking read (which, unlike a plain read in
    a repeatable-read transaction, sees what a transaction that held the lock before us committed)."""
    if estate.id is None:
        session.flush()
    session.execute(
        select(Estate.id).where(Estate.id == estate.id).with_for_update()
    )  # the turnstile: one assignment of an estate at a time
    return list(
        session.scalars(
            select(EstateManagement)
            .where(EstateManagement.estate_id == estate.id)
            .order_by(EstateManagement.started_on, EstateManagement.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _check_after_history(spells: list[EstateManagement], since: dt.date) -> None:
    """A new spell begins after every ended spell and no earlier than the current one: spells never overlap."""
    last_end = max((s.ended_on for s in spells if s.ended_on is not None), default=None)
    current = next((s for s in spells if s.ended_on is None), None)
    if last_end is not None and since <= last_end:
        raise ValidationFailed.on("since", f"交接日期应晚于上一家物业公司的管理结束日 {last_end.isoformat()}")
    if current is not None and since < current.started_on:
        raise ValidationFailed.on(
            "since", f"交接日期不能早于现物业公司的接管日期 {current.started_on.isoformat()}"
        )


def get_estate(session: Session, estate_id: int) -> Estate:
    estate = session.get(Estate, estate_id)
    if estate is None:
        raise NotFound("没有这个小区")
    return estate


def estate_history(session: Session, estate_id: int) -> tuple[Estate, list[EstateManagement]]:
    """An estate and the spells of the companies that managed it, the latest first."""
    estate = get_estate(session, estate_id)
    spells = session.scalars(
        select(EstateManagement)
        .where(EstateManagement.estate_id == estate_id)
        .options(selectinload(EstateManagement.company))
        .order_by(EstateManagement.started_on.desc(), EstateManagement.id.desc())
    )
    return estate, list(spells)


def company_on(session: Session, estate_id: int, day: dt.date) -> PropertyCompany | None:
    """The company that managed the estate on `day` (a Shanghai date), by its history; None if none did."""
    return session.scalar(
        select(PropertyCompany)
        .join(EstateManagement, EstateManagement.company_id == PropertyCompany.id)
        .where(
            EstateManagement.estate_id == estate_id,
            EstateManagement.started_on <= day,
            or_(EstateManagement.ended_on.is_(None), EstateManagement.ended_on >= day),
        )
        .order_by(EstateManagement.started_on.desc(), EstateManagement.id.desc())
        .limit(1)
    )


def _require_bureau(actor: Actor) -> None:
    if actor.role not in BUREAU_ROLES:
        raise Forbidden("只有区局可以管理物业公司", description=f"{actor.role.value} is not the bureau")


def _require_bureau_or_system(actor: Actor) -> None:
    if actor.role is not Role.SYSTEM:  # the system: the estate import
        _require_bureau(actor)


def estates_and_companies_of(
    session: Session, estate_id: InstrumentedAttribute[int], company_id: InstrumentedAttribute[int]
) -> tuple[list[Estate], list[PropertyCompany]]:
    """The estates and the companies that rows of some table name (its `estate_id` and `company_id`
    columns), each by name: what the bureau may filter a list of that table by."""
    estates = select(Estate).where(Estate.id.in_(select(estate_id).distinct())).order_by(Estate.name)
    companies = (
        select(PropertyCompany)
        .where(PropertyCompany.id.in_(select(company_id).distinct()))
        .order_by(PropertyCompany.name)
    )
    return list(session.scalars(estates)), list(session.scalars(companies))
