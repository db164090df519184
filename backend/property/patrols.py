"""Patrols (巡查记录) of property companies and their findings: filing a patrol, putting a finding right or
reporting it, the sweep that files as cases the findings dissuaded and not put right within 24 hours
(上海市住宅物业管理规定 第五十九条), and what property staff and the bureau may read of them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.audit.services import record_audit
from backend.cases.models import Case, CaseSource, CaseStatus
from backend.cases.services.filing import MAX_PHOTOS, ReportInput, file_property_report
from backend.cases.workflow import BUREAU_ROLES, STATUS_LABELS, SYSTEM, Actor, Role
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed, label_choices
from backend.org.models import Estate, PropertyCompany
from backend.pagination import Page, paginate
from backend.property.companies import estates_and_companies_of
from backend.property.duty import REPORT_WITHIN, company_managing
from backend.property.models import FindingAction, Patrol, PatrolFinding, Renovation, RenovationStatus
from backend.property.renovations import flat_part
from backend.staff.models import StaffUser
from backend.taxonomy.models import Category
from backend.uploads.models import Upload
from backend.uploads.services import store_upload
from backend.uploads.storage import Storage
from backend.workcalendar import SHANGHAI
from bot.rules import construction_in_progress

# A patrol filed late ("offline-late": no signal in a basement, a paper round typed in the next morning) keeps
# the time it happened, and the 24 hours run from it. A week covers a weekend and a holiday's make-up days;
# a record older than that is no longer a patrol report but an account of the past, and would let a company
# back-date the knowledge the duty cross-check asks about.
MAX_PATROL_AGE = dt.timedelta(days=7)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a phone's clock a little ahead is not a patrol in the future
LATE_AFTER = dt.timedelta(hours=1)  # filed this long after the patrol: shown as 补录
MAX_FINDINGS = 20
MAX_AREAS = 20
AREA_MAX, PLACE_MAX, COMMON_AREA_MAX = 32, 32, 64  # characters (the columns' sizes)
SWEEP_BATCH = 50

# The common parts a finding may be at (a place that is no flat), and the areas a patrol covers: suggestions,
# any other words are kept as typed.
COMMON_AREAS = (
    "楼道",
    "楼梯间",
    "电梯厅",
    "屋顶平台",
    "地下室",
    "消防通道",
    "绿地",
    "外立面",
    "架空层",
    "车库",
)

# What an owner, tenant or agent may do that a company's patrol finds: every category of the campaign but the
# company's own failures (property_negligence, property_duty_violation), which it does not report of itself.
FindingCategory = Literal[
    "illegal_construction",
    "structural_damage",
    "change_of_use",
    "common_area_occupation",
    "facade_damage",
    "unregistered_renovation",
    "group_rental",
    "subsidized_housing_rental",
    "agency_violation",
    "garbage_sorting",
    "green_space_damage",
]
FINDING_CATEGORIES: tuple[str, ...] = get_args(FindingCategory)

FindingActionCode = Literal["dissuaded", "stopped", "rectified", "reported"]
FINDING_ACTION_LABELS = {
    FindingAction.DISSUADED: "劝阻",
    FindingAction.STOPPED: "制止",
    FindingAction.RECTIFIED: "已整改",
    FindingAction.REPORTED: "上报",
}
# a refused action is answered with 劝阻、制止、已整改、上报
label_choices({action.value: label for action, label in FINDING_ACTION_LABELS.items()})
# dissuaded or stopped: the company waits up to 24 hours for the owner to put it right, then it is reported
_WAITING = (FindingAction.DISSUADED, FindingAction.STOPPED)
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


# ------------------------------------------------------------------------------------------- filing


@dataclass(frozen=True)
class FindingInput:
    """A finding as validated at the boundary (description by backend.text.Description, lengths)."""

    category: str
    description: str
    action: FindingAction
    building: str = ""
    unit: str = ""
    room: str = ""
    common_area: str = ""
    photo_ids: list[str] = field(default_factory=list)  # uploads of the staff member's mini-program user
    photo_files: list[bytes] = field(default_factory=list)  # photos chosen in the console's form
    renovation_id: int | None = None


@dataclass(frozen=True)
class PatrolInput:
    """A patrol as validated at the boundary; the service decides everything else."""

    estate_id: int
    areas: list[str]
    findings: list[FindingInput] = field(default_factory=list)
    patrolled_at: dt.datetime | None = None  # None: now
    note: str = ""
    client_request_id: str | None = None  # the mini-program's: a retry returns the first patrol


def file_patrol(
    session: Session,
    actor: Actor,
    data: PatrolInput,
    *,
    now: dt.datetime,
    storage: Storage | None = None,
) -> tuple[Patrol, bool]:
    """File a patrol of an estate the actor's company managed at the patrol time, by the acting staff member;
    returns it and whether it is new. Each finding is found at the patrol time. A finding reported (上报)
    becomes a case at once; so does one dissuaded or stopped more than 24 hours ago (a patrol filed late):
    the rule has already run out, and the squad should not wait for the next sweep. Photos chosen in the
    console go through the upload pipeline (`storage`)."""
    staff = _patroller(session, actor)
    company_id = _company_of(actor)
    if data.client_request_id:
        existing = _by_client_request(session, staff.id, data.client_request_id)
        if existing is not None:
            return existing, False
    patrolled_at = _patrol_time(data.patrolled_at, now)
    estate = _estate_managed_at(session, company_id, data.estate_id, patrolled_at)
    areas = _areas(data.areas)
    if len(data.findings) > MAX_FINDINGS:
        raise ValidationFailed.on("findings", f"每次巡查最多记录 {MAX_FINDINGS} 条发现")
    checked = [_checked(session, company_id, estate, staff, f, i) for i, f in enumerate(data.findings)]
    patrol = Patrol(
        company_id=company_id,
        estate_id=estate.id,
        patroller_id=staff.id,
        patrolled_at=patrolled_at,
        areas=areas,
        note=data.note.strip(),
        client_request_id=data.client_request_id,
        created_at=now,
    )
    for i, finding in enumerate(checked):
        stored = _store_photos(session, storage, data.findings[i].photo_files, i, len(finding.photo_ids))
        finding.photo_ids = finding.photo_ids + stored
        finding.found_at = patrolled_at
        finding.rectified_at = patrolled_at if finding.action == FindingAction.RECTIFIED else None
        patrol.findings.append(finding)
    winner = _add_once(session, patrol, staff)
    if winner is not patrol:
        return winner, False
    detail = {
        "estate_id": estate.id,
        "patrolled_at": patrolled_at.isoformat(),
        "findings": len(patrol.findings),
        "late": now - patrolled_at > LATE_AFTER,
    }
    record_audit(session, actor, "patrol.file", "patrol", patrol.id, detail=detail, now=now)
    for finding in patrol.findings:
        if finding.action == FindingAction.REPORTED:
            _file_case(session, finding, actor, now)
        elif _overdue(finding, now):
            _file_case(session, finding, SYSTEM, now)
    return patrol, True


def _patroller(session: Session, actor: Actor) -> StaffUser:
    """The acting staff member, who patrolled: a property-staff account of the actor's company."""
    company_id = _company_of(actor)
    staff = session.get(StaffUser, actor.id) if actor.id is not None else None
    if staff is None or staff.company_id != company_id:
        raise Forbidden("只有物业服务企业的工作人员可以提交巡查记录", code="not_property_staff")
    return staff


def _add_once(session: Session, patrol: Patrol, staff: StaffUser) -> Patrol:
    """Add the patrol; if the same client_request_id raced in from another request, the patrol that won."""
    try:
        with session.begin_nested():
            session.add(patrol)
            session.flush()
    except IntegrityError:
        if patrol.client_request_id:
            existing = _by_client_request(session, staff.id, patrol.client_request_id, latest=True)
            if existing is not None:
                return existing
        raise
    return patrol


def _company_of(actor: Actor) -> int:
    """The company a property-staff actor acts for; anyone else may not file or change a patrol."""
    if actor.role is not Role.PROPERTY_STAFF or actor.company_id is None:
        raise Forbidden("只有物业服务企业的工作人员可以办理巡查记录", code="not_property_staff")
    return actor.company_id


def _by_client_request(
    session: Session, patroller_id: int, client_request_id: str, *, latest: bool = False
) -> Patrol | None:
    query = select(Patrol).where(
        Patrol.patroller_id == patroller_id, Patrol.client_request_id == client_request_id
    )
    if latest:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalar(query)


def _patrol_time(given: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if given is None:
        return now.astimezone(dt.UTC)
    if given.utcoffset() is None:
        raise ValidationFailed.on("patrolled_at", "巡查时间须注明时区")
    if given > now + CLOCK_SKEW:
        raise ValidationFailed.on("patrolled_at", "巡查时间不能晚于现在")
    if given < now - MAX_PATROL_AGE:
        raise ValidationFailed.on("patrolled_at", f"只能补录 {MAX_PATROL_AGE.days} 天内的巡查记录")
    return min(given, now).astimezone(dt.UTC)


def _estate_managed_at(session: Session, company_id: int, estate_id: int, at: dt.datetime) -> Estate:
    """The estate, if the company managed it on the day of the patrol (by the estate's history)."""
    estate = session.get(Estate, estate_id)
    if estate is None:
        raise ValidationFailed.on("estate_id", "没有这个小区")
    managing = company_managing(session, estate.id, at)
    if managing is None or managing.id != company_id:
        raise ValidationFailed.on("estate_id", "请选择巡查时本公司管理的小区")
    return estate


def _areas(areas: list[str]) -> list[str]:
    kept = list(dict.fromkeys(a.strip() for a in areas if a.strip()))
    if not kept:
        raise ValidationFailed.on("areas", "请填写巡查区域")
    if len(kept) > MAX_AREAS:
        raise ValidationFailed.on("areas", f"巡查区域最多 {MAX_AREAS} 项")
    if any(len(a) > AREA_MAX for a in kept):
        raise ValidationFailed.on("areas", f"每个巡查区域最多 {AREA_MAX} 个字符")
    return kept


def _checked(
    session: Session, company_id: int, estate: Estate, staff: StaffUser, data: FindingInput, i: int
) -> PatrolFinding:
    """The finding `data` (the i-th of the patrol) checked against the rules, not yet added."""
    where = f"findings.{i}"
    if data.category not in FINDING_CATEGORIES or session.get(Category, data.category) is None:
        raise ValidationFailed.on(f"{where}.category", "请选择物业巡查可上报的问题类别")
    renovation = None
    if data.renovation_id is not None:
        renovation = session.get(Renovation, data.renovation_id)
        if renovation is None or renovation.company_id != company_id or renovation.estate_id != estate.id:
            raise ValidationFailed.on(f"{where}.renovation_id", "请选择本公司在该小区登记的装修")
    building, unit, room = (flat_part(kind, getattr(data, kind)) for kind in ("building", "unit", "room"))
    if renovation is not None and not (building or data.common_area):  # the flat being inspected
        building, unit, room = renovation.building, renovation.unit, renovation.room
    common_area = data.common_area.strip()
    if not (building or common_area):
        raise ValidationFailed.on(f"{where}.building", "请填写楼号（及单元、室号），或选择公共部位")
    if (unit or room) and not building:
        raise ValidationFailed.on(f"{where}.building", "填写单元或室号时请同时填写楼号")
    for name, value, limit in (
        ("building", building, PLACE_MAX),
        ("unit", unit, PLACE_MAX),
        ("room", room, PLACE_MAX),
        ("common_area", common_area, COMMON_AREA_MAX),
    ):
        if len(value) > limit:
            raise ValidationFailed.on(f"{where}.{name}", f"最多 {limit} 个字符")
    photo_ids = _staff_photos(session, staff, data, where)
    return PatrolFinding(
        company_id=company_id,
        estate_id=estate.id,
        category_code=data.category,
        building=building,
        unit=unit,
        room=room,
        common_area=common_area,
        description=data.description,
        photo_ids=photo_ids,
        action=FindingAction(data.action),
        renovation_id=renovation.id if renovation is not None else None,
    )


def _staff_photos(session: Session, staff: StaffUser, data: FindingInput, where: str) -> list[str]:
    """The upload ids of the finding, each uploaded by the staff member's own mini-program user."""
    ids = data.photo_ids
    if len(ids) + len(data.photo_files) > MAX_PHOTOS:
        raise ValidationFailed.on(f"{where}.photos", f"每条发现最多 {MAX_PHOTOS} 张照片")
    if len(set(ids)) != len(ids):
        raise ValidationFailed.on(f"{where}.photos", "照片重复")
    if not ids:
        return []
    query = select(Upload.id, Upload.owner_id).where(Upload.id.in_(ids))
    owners = {upload_id: owner_id for upload_id, owner_id in session.execute(query)}
    owner = staff.wechat_user_id
    if owner is None or any(owners.get(photo_id, -1) != owner for photo_id in ids):
        raise ValidationFailed.on(f"{where}.photos", "照片不存在或已过期，请重新上传")
    return list(ids)


def _store_photos(
    session: Session, storage: Storage | None, files: list[bytes], i: int, already: int
) -> list[str]:
    """Photos chosen in the console's form, decoded, cleaned of EXIF and stored; staff-only (no owner)."""
    if not files:
        return []
    if storage is None:
        raise ValueError("photo files need a storage to go to")
    stored = []
    for n, content in enumerate(files, start=already + 1):
        try:
            stored.append(store_upload(session, storage, None, content).id)
        except ValidationFailed as exc:  # said beside the finding's photo field, naming the photo
            raise ValidationFailed.on(f"findings.{i}.photos", f"第 {n} 张照片：{exc.message}") from None
    return stored


# ------------------------------------------------------------------------ putting right, reporting


def rectify_finding(session: Session, actor: Actor, finding_id: int, *, now: dt.datetime) -> PatrolFinding:
    """The company marks a dissuaded or stopped finding put right (已整改) within 24 hours of finding it: it
    never becomes a case. One that became a case is followed on the case; one past 24 hours is reported."""
    finding = _locked_finding(session, actor, finding_id)
    if finding.case_id is not None:
        raise Conflict(
            f"该发现已上报为工单 {_tracking_no(session, finding)}，整改情况请在工单办理中跟进",
            code="finding_reported",
        )
    if finding.rectified_at is not None:
        raise Conflict("该发现已标记为已整改", code="finding_rectified")
    if _overdue(finding, now):
        raise Conflict(
            "劝阻、制止后超过 24 小时未整改，按规定须上报城管部门，不能再标记为已整改",
            code="finding_overdue",
        )
    finding.rectified_at = now
    session.flush()
    detail = {"patrol_id": finding.patrol_id, "found_at": finding.found_at.isoformat()}
    record_audit(session, actor, "patrol.rectify", "patrol_finding", finding.id, detail=detail, now=now)
    return finding


def report_finding(session: Session, actor: Actor, finding_id: int, *, now: dt.datetime) -> Case:
    """The company reports a dissuaded or stopped finding now (劝阻无效，上报), without waiting for the
    24 hours to run out: it becomes a case at once."""
    finding = _locked_finding(session, actor, finding_id)
    if finding.case_id is not None:
        raise Conflict(f"该发现已上报为工单 {_tracking_no(session, finding)}", code="finding_reported")
    if finding.rectified_at is not None:
        raise Conflict("该发现已整改，无需上报", code="finding_rectified")
    return _file_case(session, finding, actor, now)


def _locked_finding(session: Session, actor: Actor, finding_id: int) -> PatrolFinding:
    """The company's finding, its row locked and read afresh, so that putting it right and the sweep
    filing it (or two staff members) queue up and the second sees what the first did."""
    company_id = _company_of(actor)
    finding = session.scalar(
        select(PatrolFinding)
        .where(PatrolFinding.id == finding_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if finding is None or finding.company_id != company_id:
        raise NotFound("没有这条巡查发现", code="finding_not_found")
    return finding


def _tracking_no(session: Session, finding: PatrolFinding) -> str:
    return session.scalar(select(Case.tracking_no).where(Case.id == finding.case_id)) or ""


def _overdue(finding: PatrolFinding, now: dt.datetime) -> bool:
    """Dissuaded or stopped, not put right and not reported, and more than 24 hours since it was found."""
    return (
        finding.action in _WAITING
        and finding.rectified_at is None
        and finding.case_id is None
        and now - finding.found_at > REPORT_WITHIN
    )


def _file_case(session: Session, finding: PatrolFinding, actor: Actor, now: dt.datetime) -> Case:
    """The finding becomes a case at `now` (物业发现上报), reported by `actor`: a staff member, or the system
    when 24 hours ran out. Its on-site clock runs from `now`; 2 hours when the staff's own words say the
    work is going on (the bot's reading of construction in progress)."""
    patrol = finding.patrol
    company = patrol.company.name
    found = _local(finding.found_at)
    done = FINDING_ACTION_LABELS[FindingAction(finding.action)]
    if finding.action == FindingAction.REPORTED:
        how = f"物业巡查于 {found} 发现并上报"
    elif actor.role is Role.SYSTEM:
        how = f"物业巡查于 {found} 发现并{done}，超过 24 小时未整改，按规定自动上报"
    else:
        how = f"物业巡查于 {found} 发现并{done}，{done}无效，于 {_local(now)} 上报"
    case = file_property_report(
        session,
        actor,
        ReportInput(
            description=f"【{place_of(finding)}】{finding.description}（{how}）",
            category=finding.category_code,
            estate_id=finding.estate_id,
            building=finding.building,
            unit=finding.unit,
            room=finding.room,
            in_progress=construction_in_progress(finding.description) is True,
            source=CaseSource.PROPERTY,
            external_ref=f"巡查发现{finding.id}",  # one case per finding, whatever races
            source_detail=company[:128],
        ),
        photo_ids=finding.photo_ids,
        note=f"{company}巡查记录 {patrol.id}：{how}",
        now=now,
    )
    finding.case_id = case.id
    finding.reported_at = now
    session.flush()
    return case


def place_of(finding: PatrolFinding) -> str:
    """Where a finding is, in words: 12号楼2单元1502室, 12号楼楼道, 屋顶平台."""
    return place_label(finding.building, finding.unit, finding.room, finding.common_area)


def place_label(building: str, unit: str, room: str, common_area: str = "") -> str:
    flat = (
        (f"{building}号楼" if building else "")
        + (f"{unit}单元" if unit else "")
        + (f"{room}室" if room else "")
    )
    return flat + common_area or "小区内"


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepBatch:
    """One batch of the sweep: the findings it filed as cases, and where the next batch starts."""

    filed: list[int]
    last_id: int
    done: bool


def file_overdue_findings(
    session: Session, now: dt.datetime, *, after_id: int = 0, limit: int = SWEEP_BATCH
) -> SweepBatch:
    """One batch of the 24-hour sweep (第五十九条): the findings after `after_id` dissuaded or stopped more
    than 24 hours before `now` and neither put right nor reported become cases, each at `now`, reported by
    the system. Idempotent, and safe beside another sweep: the rows are locked as they are read, those
    another sweep holds are skipped (it files them), and each is read afresh, so nothing is filed twice. The
    caller commits each batch (a transaction of its own) and asks for the next until `done`."""
    rows = list(
        session.scalars(
            select(PatrolFinding)
            .where(
                PatrolFinding.id > after_id,
                PatrolFinding.action.in_([a.value for a in _WAITING]),
                PatrolFinding.case_id.is_(None),
                PatrolFinding.rectified_at.is_(None),
                PatrolFinding.found_at < now - REPORT_WITHIN,
            )
            .order_by(PatrolFinding.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    filed = []
    for finding in rows:
        if _overdue(finding, now):
            _file_case(session, finding, SYSTEM, now)
            filed.append(finding.id)
    return SweepBatch(filed, rows[-1].id if rows else after_id, len(rows) < limit)


# ------------------------------------------------------------------------------------------- reading


def _reader_scope(actor: Actor) -> int | None:
    """The company whose patrols the actor reads (None: every company's, for the bureau)."""
    if actor.role in BUREAU_ROLES:
        return None
    return _company_of(actor)


def list_patrols(
    session: Session,
    actor: Actor,
    *,
    company_id: int | None = None,
    estate_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Patrol]:
    """A company's patrols (the bureau: every company's, or the one it filters by), the latest first."""
    scope = _reader_scope(actor)
    query = select(Patrol).options(
        selectinload(Patrol.estate),
        selectinload(Patrol.company),
        selectinload(Patrol.patroller),
        selectinload(Patrol.findings),
    )
    if scope is not None or company_id is not None:
        query = query.where(Patrol.company_id == (scope if scope is not None else company_id))
    if estate_id is not None:
        query = query.where(Patrol.estate_id == estate_id)
    return paginate(session, query.order_by(Patrol.patrolled_at.desc(), Patrol.id.desc()), page, per_page)


def get_patrol(session: Session, actor: Actor, patrol_id: int) -> Patrol:
    """A patrol the actor may read: their company's own, or, for the bureau, any."""
    scope = _reader_scope(actor)
    patrol = session.get(Patrol, patrol_id)
    if patrol is None or (scope is not None and patrol.company_id != scope):
        raise NotFound("没有这条巡查记录", code="patrol_not_found")
    return patrol


def patrol_of_finding(session: Session, actor: Actor, finding_id: int) -> Patrol:
    """The patrol a finding the actor may read belongs to."""
    finding = session.get(PatrolFinding, finding_id)
    if finding is None:
        raise NotFound("没有这条巡查发现", code="finding_not_found")
    return get_patrol(session, actor, finding.patrol_id)


def estates_for_patrol(session: Session, actor: Actor) -> list[Estate]:
    """The estates the actor's company manages now (a patrol filed late may name one it managed then)."""
    company_id = _company_of(actor)
    return list(
        session.scalars(select(Estate).where(Estate.property_company_id == company_id).order_by(Estate.name))
    )


def renovations_for_patrol(session: Session, actor: Actor) -> list[Renovation]:
    """The company's registrations whose work a finding may be an inspection of (accepted or under way)."""
    company_id = _company_of(actor)
    open_states = [RenovationStatus.ACCEPTED, RenovationStatus.IN_PROGRESS, RenovationStatus.WAITING_PERMIT]
    return list(
        session.scalars(
            select(Renovation)
            .where(Renovation.company_id == company_id, Renovation.status.in_([s.value for s in open_states]))
            .options(selectinload(Renovation.estate))
            .order_by(Renovation.id.desc())
            .limit(200)
        )
    )


def patrol_filters(session: Session, actor: Actor) -> tuple[list[Estate], list[PropertyCompany]]:
    """The estates and (for the bureau) the companies a list of patrols may be filtered by."""
    if _reader_scope(actor) is not None:
        return estates_for_patrol(session, actor), []
    return estates_and_companies_of(session, Patrol.estate_id, Patrol.company_id)


@dataclass(frozen=True)
class CaseProgress:
    """What property staff may see of the case a finding became: its number, public status and the squad's
    public reply. Never its internal notes, nor anything of a resident's report."""

    tracking_no: str
    status: str
    status_label: str
    public_reply: str


@dataclass(frozen=True)
class FindingView:
    """A finding and its state: reported (a case), rectified, waiting for the owner to put it right (with
    the time it will be reported by), or past 24 hours and waiting for the sweep."""

    finding: PatrolFinding
    place: str
    category_name: str
    action_label: str
    state: Literal["reported", "rectified", "waiting", "overdue"]
    state_label: str
    report_due_at: dt.datetime | None
    case: CaseProgress | None
    can_rectify: bool
    can_report: bool


@dataclass(frozen=True)
class PatrolView:
    patrol: Patrol
    late: bool  # filed more than LATE_AFTER after it happened (补录)
    findings: list[FindingView]


def view_patrol(session: Session, actor: Actor, patrol: Patrol, now: dt.datetime) -> PatrolView:
    """The patrol as `actor` (who may read it: see get_patrol) sees it; only its company's staff may act."""
    case_ids = [f.case_id for f in patrol.findings if f.case_id is not None]
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    names = {code: name for code, name in session.execute(select(Category.code, Category.name))}
    acts = actor.role is Role.PROPERTY_STAFF and actor.company_id == patrol.company_id
    return PatrolView(
        patrol=patrol,
        late=patrol.created_at - patrol.patrolled_at > LATE_AFTER,
        findings=[
            _finding_view(f, cases.get(f.case_id) if f.case_id else None, names, acts, now)
            for f in patrol.findings
        ],
    )


def _finding_view(
    finding: PatrolFinding, case: Case | None, names: dict[str, str], acts: bool, now: dt.datetime
) -> FindingView:
    action = FindingAction(finding.action)
    due = finding.found_at + REPORT_WITHIN
    progress = None
    if case is not None:
        progress = CaseProgress(
            case.tracking_no, case.status, STATUS_LABELS[CaseStatus(case.status)], case.public_reply
        )
        state: Literal["reported", "rectified", "waiting", "overdue"] = "reported"
        label = f"已上报城管：工单 {case.tracking_no}"
    elif finding.rectified_at is not None:
        state, label = "rectified", "已整改"
    elif now - finding.found_at > REPORT_WITHIN:
        state, label = "overdue", "超过 24 小时未整改，正在上报城管"
    else:
        state, label = "waiting", f"已{FINDING_ACTION_LABELS[action]}，{_local(due)} 前未整改将上报城管"
    return FindingView(
        finding=finding,
        place=place_of(finding),
        category_name=names.get(finding.category_code, finding.category_code),
        action_label=FINDING_ACTION_LABELS[action],
        state=state,
        state_label=label,
        report_due_at=due if state == "waiting" else None,
        case=progress,
        can_rectify=acts and state == "waiting",
        can_report=acts and state in {"waiting", "overdue"},
    )


def finding_photo(session: Session, actor: Actor, upload_id: str) -> Upload:
    """A photo of a finding the actor may read (their company's, or any for the bureau)."""
    scope = _reader_scope(actor)
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise NotFound(code="upload_not_found")
    # the ids are kept as a JSON list; an id is 32 hex digits, so its quoted form matches only itself
    query = select(PatrolFinding.id).where(cast(PatrolFinding.photo_ids, String).like(f'%"{upload_id}"%'))
    if scope is not None:
        query = query.where(PatrolFinding.company_id == scope)
    upload = session.get(Upload, upload_id)
    if upload is None or session.scalar(query.limit(1)) is None:
        raise NotFound(code="upload_not_found")
    return upload
