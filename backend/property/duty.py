"""The duty cross-check (履职检查) and the companies' compliance records.

When a case about an estate proves true, the notice asks the squad to check whether the estate's property
company did its duty (上海市住宅物业管理规定 第五十七条: renovations registered; 第五十九条: violations
dissuaded, stopped and, when that fails, reported within 24 hours). `check_duty` looks at the flat's
registration and the company's patrol findings at that place over a window before the case, and records on
the case what it found; a clear failure can become a `property_negligence` case against the company.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.cases.models import Case
from backend.cases.services.timeline import record_event
from backend.cases.workflow import SYSTEM, Actor
from backend.errors import Forbidden, NotFound
from backend.org.models import PropertyCompany
from backend.property.companies import company_on
from backend.property.models import (
    DutyCheck,
    Patrol,
    PatrolFinding,
    Renovation,
    RenovationStatus,
)
from backend.property.renovations import flat_part
from backend.workcalendar import SHANGHAI

REPORT_WITHIN = dt.timedelta(hours=24)  # 上海市住宅物业管理规定 第五十九条
DEFAULT_WINDOW_DAYS = 90
# Registered renovations: the registration counts once accepted.
REGISTERED = [RenovationStatus.ACCEPTED, RenovationStatus.IN_PROGRESS, RenovationStatus.COMPLETED]
# Kinds of case where a flat's renovation registration says something about the company's duty.
ABOUT_RENOVATION = {
    "illegal_construction",
    "structural_damage",
    "change_of_use",
    "facade_damage",
    "unregistered_renovation",
}


def company_managing(session: Session, estate_id: int, instant: dt.datetime) -> PropertyCompany | None:
    """The company that managed the estate on the day of `instant` (Shanghai time), by the estate's history."""
    return company_on(session, estate_id, instant.astimezone(SHANGHAI).date())


def check_duty(
    session: Session, case: Case, *, now: dt.datetime, window_days: int = DEFAULT_WINDOW_DAYS
) -> DutyCheck | None:
    """Record on a verified case what the estate's company did: the flat's registration, whether it knew
    (a finding of its patrols at that place within `window_days` before the case) and whether it reported
    within 24 hours. None for a case about no estate. Run again (a case verified twice), it is brought up
    to date."""
    if case.estate_id is None:
        return None
    company = company_managing(session, case.estate_id, case.created_at)
    since = case.created_at - dt.timedelta(days=window_days)
    check = session.scalar(select(DutyCheck).where(DutyCheck.case_id == case.id)) or DutyCheck(
        case_id=case.id
    )
    check.company_id = company.id if company is not None else None
    check.checked_at = now
    check.window_days = window_days
    check.registered, check.renovation_id = _registration(session, case, since)
    finding = _finding_at_the_place(session, case, company, since) if company is not None else None
    check.knew = finding is not None
    check.finding_id = finding.id if finding is not None else None
    check.reported_in_time = _reported_in_time(finding) if finding is not None else None
    check.failed = company is not None and (
        (check.knew and not check.reported_in_time) or (not check.knew and check.registered is False)
    )
    check.summary = _summary(check, company, finding)
    if check.id is None:
        session.add(check)
    session.flush()
    record_event(
        session,
        case,
        "duty_check",
        None,
        None,
        SYSTEM,
        note=check.summary,
        public=False,
        data={"failed": check.failed, "company_id": check.company_id},
        now=now,
    )
    return check


def _registration(session: Session, case: Case, since: dt.datetime) -> tuple[bool | None, int | None]:
    """Whether the flat of the case has a registered renovation (by whichever company filed it; None: the case
    is not about a flat, or not of a kind where a registration matters)."""
    if not (case.building and case.room) or case.category_code not in ABOUT_RENOVATION:
        return None, None
    # registrations keep the flat normalised ("１２号楼" is "12"); a resident's report says it as typed
    building, unit, room = (
        flat_part(k, v) for k, v in (("building", case.building), ("unit", case.unit), ("room", case.room))
    )
    query = select(Renovation).where(
        Renovation.estate_id == case.estate_id,
        Renovation.building == building,
        Renovation.room == room,
        Renovation.status.in_([s.value for s in REGISTERED]),
        Renovation.planned_end >= since.astimezone(SHANGHAI).date(),
    )
    if unit:  # a case without its unit matches the flat in any unit
        query = query.where(or_(Renovation.unit == unit, Renovation.unit == ""))
    renovation = session.scalar(query.order_by(Renovation.id.desc()).limit(1))
    return renovation is not None, renovation.id if renovation is not None else None


def _finding_at_the_place(
    session: Session, case: Case, company: PropertyCompany, since: dt.datetime
) -> PatrolFinding | None:
    """The company's earliest finding at the case's place within the window: the same building (and room, when
    both name one), or anywhere in the estate of the same category when the case names no building."""
    query = select(PatrolFinding).where(
        PatrolFinding.company_id == company.id,
        PatrolFinding.estate_id == case.estate_id,
        PatrolFinding.found_at >= since,
        PatrolFinding.found_at <= case.created_at + REPORT_WITHIN,
    )
    if case.building:
        query = query.where(PatrolFinding.building == case.building)
        if case.room:
            query = query.where(or_(PatrolFinding.room == case.room, PatrolFinding.room == ""))
    else:
        query = query.where(PatrolFinding.category_code == case.category_code)
    return session.scalar(query.order_by(PatrolFinding.found_at, PatrolFinding.id).limit(1))


def _reported_in_time(finding: PatrolFinding) -> bool:
    return finding.reported_at is not None and finding.reported_at - finding.found_at <= REPORT_WITHIN


def _summary(check: DutyCheck, company: PropertyCompany | None, finding: PatrolFinding | None) -> str:
    if company is None:
        return "该小区当时没有登记在册的物业服务企业，无法检查履职情况。"
    parts = [f"物业服务企业：{company.name}。"]
    if check.registered is True:
        parts.append("该户已办理装修申报登记。")
    elif check.registered is False:
        parts.append("该户未办理装修申报登记。")
    if finding is None:
        parts.append(f"近 {check.window_days} 天内物业巡查未发现、未上报该处问题。")
    else:
        found = finding.found_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        if check.reported_in_time:
            parts.append(f"物业于 {found} 巡查发现，并在 24 小时内上报。")
        elif finding.reported_at is not None:
            late = (finding.reported_at - finding.found_at).total_seconds() / 3600
            parts.append(f"物业于 {found} 巡查发现，{late:.0f} 小时后才上报，超过 24 小时。")
        else:
            parts.append(f"物业于 {found} 巡查发现，但未上报。")
    parts.append("判定：物业未履职尽责。" if check.failed else "判定：未见物业明显失职。")
    return "".join(parts)


def duty_check_of(session: Session, case: Case) -> DutyCheck | None:
    return session.scalar(select(DutyCheck).where(DutyCheck.case_id == case.id))


# --------------------------------------------------------------------------------- compliance records


@dataclass(frozen=True)
class Compliance:
    """A company's record (履职记录), over all time or since a day."""

    company: PropertyCompany
    registrations: int
    patrols: int
    findings: int
    reported: int  # findings that became cases, by the company's report or by the 24-hour rule
    reported_in_time: int
    reported_late: int
    failures: int  # duty checks that found a failure
    negligence_cases: int

    @property
    def on_time_rate(self) -> float | None:
        """Findings reported within 24 hours, of those reported (None: nothing had to be reported)."""
        return self.reported_in_time / self.reported if self.reported else None


SCORE_RULE = (
    "排名先看经核查发现的失职次数（越少越靠前），再看按时上报率（劝阻制止无效的发现在 24 小时内上报的比例，越高越靠前），"
    "最后看巡查次数（越多越靠前）。"
)


def compliance_of(session: Session, company: PropertyCompany) -> Compliance:
    return compliance_ranking(session, company_id=company.id)[0]


def compliance_ranking(session: Session, *, company_id: int | None = None) -> list[Compliance]:
    """Every company's record (or one company's), ranked by SCORE_RULE. Counted in the database, one query
    per measure, whatever the number of companies."""
    companies = select(PropertyCompany)
    if company_id is not None:
        companies = companies.where(PropertyCompany.id == company_id)
    listed = list(session.scalars(companies.order_by(PropertyCompany.name)))
    if company_id is not None and not listed:
        raise NotFound("没有这家物业服务企业", code="company_not_found")

    def counts(column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> dict[int, int]:
        rows = session.execute(select(column, func.count()).where(*where).group_by(column))
        return {key: count for key, count in rows}

    registrations = counts(Renovation.company_id)
    patrols = counts(Patrol.company_id)
    findings = counts(PatrolFinding.company_id)
    reported = counts(PatrolFinding.company_id, PatrolFinding.reported_at.is_not(None))
    on_time = _reported_in_time_counts(session)
    failures = counts(DutyCheck.company_id, DutyCheck.failed.is_(True))  # type: ignore[arg-type]
    negligence = counts(DutyCheck.company_id, DutyCheck.negligence_case_id.is_not(None))  # type: ignore[arg-type]
    records = [
        Compliance(
            company=c,
            registrations=registrations.get(c.id, 0),
            patrols=patrols.get(c.id, 0),
            findings=findings.get(c.id, 0),
            reported=reported.get(c.id, 0),
            reported_in_time=on_time.get(c.id, 0),
            reported_late=reported.get(c.id, 0) - on_time.get(c.id, 0),
            failures=failures.get(c.id, 0),
            negligence_cases=negligence.get(c.id, 0),
        )
        for c in listed
    ]
    return sorted(records, key=lambda r: (r.failures, -(r.on_time_rate or 0.0), -r.patrols, r.company.name))


def _reported_in_time_counts(session: Session) -> dict[int, int]:
    """Findings reported within 24 hours of being found, by company (compared in Python: the interval
    arithmetic differs between SQLite and MariaDB, and reported findings are few)."""
    rows = session.execute(
        select(PatrolFinding.company_id, PatrolFinding.found_at, PatrolFinding.reported_at).where(
            PatrolFinding.reported_at.is_not(None)
        )
    )
    out: dict[int, int] = {}
    for company_id, found_at, reported_at in rows:
        if reported_at is not None and reported_at - found_at <= REPORT_WITHIN:
            out[company_id] = out.get(company_id, 0) + 1
    return out


def cases_of_company(session: Session, actor: Actor) -> list[Case]:
    """The cases the actor's company's findings became (what property staff may see of cases: their status
    and public reply, never anything of a resident's report)."""
    if actor.company_id is None:
        raise Forbidden()
    return list(
        session.scalars(
            select(Case)
            .join(PatrolFinding, PatrolFinding.case_id == Case.id)
            .where(PatrolFinding.company_id == actor.company_id)
            .order_by(Case.id.desc())
        ).unique()
    )
