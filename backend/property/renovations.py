"""Renovation registrations (装修申报登记): the checklist of content/renovation.toml and the rule each item is
checked against, a registration's life and its record, the renovation notice (装修告知书), and what anyone
outside the company may see of a registration (never the owner's identity)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, SYSTEM, Actor, Role
from backend.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ValidationFailed,
    label_choices,
)
from backend.org.models import Estate, PropertyCompany
from backend.pagination import Page, paginate
from backend.property.companies import estates_and_companies_of
from backend.property.models import Renovation, RenovationEvent, RenovationStatus
from backend.text import PHONE, PHONE_MESSAGE
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI

# ---------------------------------------------------------------------------------------- the checklist


class Verdict(enum.StrEnum):
    FORBIDDEN = "forbidden"  # 禁止: a registration with it is refused
    PERMIT = "permit"  # 须审批: it waits until the permit is attached
    ALLOWED = "allowed"  # 可以施工


VERDICT_LABELS = {Verdict.FORBIDDEN: "禁止", Verdict.PERMIT: "须审批", Verdict.ALLOWED: "可以施工"}


class ChecklistError(ValueError):
    """content/renovation.toml is not a checklist the rules can be checked against."""


@dataclass(frozen=True)
class Basis:
    law: str
    article: str | None = None

    def __str__(self) -> str:
        return f"《{self.law}》{self.article or ''}"


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    name: str
    verdict: Verdict
    reason: str
    basis: tuple[Basis, ...]
    permit: str = ""  # the permit a PERMIT item needs, and who issues it
    authority: str = ""

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def basis_text(self) -> str:
        return "、".join(str(b) for b in self.basis)


@dataclass(frozen=True)
class Checklist:
    """The work items a registration chooses from, each with its verdict, and the notice's duties."""

    items: tuple[ChecklistItem, ...]
    owner_duties: tuple[str, ...]
    contractor_duties: tuple[str, ...]
    company_duties: str

    @functools.cached_property
    def by_code(self) -> dict[str, ChecklistItem]:
        return {item.code: item for item in self.items}

    def of(self, verdict: Verdict) -> list[ChecklistItem]:
        return [item for item in self.items if item.verdict is verdict]


def _basis(raw: Any, code: str) -> tuple[Basis, ...]:
    basis = tuple(
        Basis(str(b["law"]).strip(), str(b["article"]).strip() if b.get("article") else None)
        for b in raw or []
        if isinstance(b, dict) and str(b.get("law", "")).strip()
    )
    if not basis:
        raise ChecklistError(f"item {code}: needs a basis (a law named in laws.toml)")
    return basis


def _item(raw: dict[str, Any]) -> ChecklistItem:
    code = str(raw.get("code", "")).strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,47}", code):
        raise ChecklistError(f"item {code!r}: the code must be lower-case letters, digits and _")
    try:
        verdict = Verdict(str(raw.get("verdict")))
    except ValueError:
        raise ChecklistError(f"item {code}: verdict must be forbidden, permit or allowed") from None
    item = ChecklistItem(
        code=code,
        name=str(raw.get("name", "")).strip(),
        verdict=verdict,
        reason=str(raw.get("reason", "")).strip(),
        basis=_basis(raw.get("basis"), code),
        permit=str(raw.get("permit", "")).strip(),
        authority=str(raw.get("authority", "")).strip(),
    )
    if not item.name or not item.reason:
        raise ChecklistError(f"item {code}: needs a name and a reason")
    if (verdict is Verdict.PERMIT) != bool(item.permit and item.authority):
        raise ChecklistError(
            f"item {code}: a permit and its authority go with the verdict permit, and only it"
        )
    return item


def parse_checklist(data: dict[str, Any]) -> Checklist:
    """The checklist in a parsed renovation.toml; ChecklistError names the first thing wrong with it."""
    items = tuple(_item(raw) for raw in data.get("items", []))
    codes = [item.code for item in items]
    if not items or len(set(codes)) != len(codes):
        raise ChecklistError("the checklist needs items, each with its own code")
    notice = data.get("notice", {})
    checklist = Checklist(
        items=items,
        owner_duties=tuple(str(d).strip() for d in notice.get("owner_duties", []) if str(d).strip()),
        contractor_duties=tuple(
            str(d).strip() for d in notice.get("contractor_duties", []) if str(d).strip()
        ),
        company_duties=str(notice.get("company_duties", "")).strip(),
    )
    if not (checklist.owner_duties and checklist.contractor_duties and checklist.company_duties):
        raise ChecklistError("[notice] needs owner_duties, contractor_duties and company_duties")
    return checklist


@functools.cache
def load_checklist(content_dir: Path) -> Checklist:
    """content_dir/renovation.toml, read once per process. The rules are code kept as data: a deployment
    brings its own file, so there is nothing to seed, and each registration keeps a copy of the verdicts it
    was decided by, so a later change to the file never rewrites a decision already made."""
    with (Path(content_dir) / "renovation.toml").open("rb") as fh:
        return parse_checklist(tomllib.load(fh))


# ------------------------------------------------------------------------------------------- the rules


STATUS_LABELS = {
    RenovationStatus.SUBMITTED: "已申报",
    RenovationStatus.REFUSED: "不予登记",
    RenovationStatus.WAITING_PERMIT: "待补审批",
    RenovationStatus.ACCEPTED: "已登记",
    RenovationStatus.IN_PROGRESS: "施工中",
    RenovationStatus.COMPLETED: "已完工",
}
label_choices({status.value: label for status, label in STATUS_LABELS.items()})
# What a neighbour may learn of: a registration the rules let through (not refused, not waiting).
REGISTERED = frozenset({RenovationStatus.ACCEPTED, RenovationStatus.IN_PROGRESS, RenovationStatus.COMPLETED})
# A flat has at most one registered renovation under way at a time. (One waiting for a permit does not hold
# the flat: an owner who never gets the permit must be able to register other work.)
OPEN = frozenset({RenovationStatus.ACCEPTED, RenovationStatus.IN_PROGRESS})

EVENT_LABELS = {
    "submit": "提交装修申报",
    "refuse": "不予登记",
    "wait_permit": "待补审批文件",
    "accept": "准予登记",
    "permit": "附上审批文件",
    "start": "开工",
    "complete": "完工",
}


def check_items(checklist: Checklist, codes: list[str]) -> list[dict[str, Any]]:
    """Each chosen item (once, in the order chosen) with its verdict, as the registration keeps it. An
    unknown code, or no item at all, is refused."""
    chosen = list(dict.fromkeys(codes))
    if not chosen:
        raise ValidationFailed.on("items", "请至少选择一项装修项目")
    unknown = [code for code in chosen if code not in checklist.by_code]
    if unknown:
        raise ValidationFailed.on("items", f"没有这些装修项目：{'、'.join(unknown)}")
    return [_verdict_of(checklist.by_code[code]) for code in chosen]


def _verdict_of(item: ChecklistItem) -> dict[str, Any]:
    verdict: dict[str, Any] = {
        "item": item.code,
        "name": item.name,
        "verdict": item.verdict.value,
        "reason": item.reason,
        "basis": [{"law": b.law, "article": b.article} for b in item.basis],
    }
    if item.verdict is Verdict.PERMIT:
        verdict |= {"permit": item.permit, "authority": item.authority}
    return verdict


def decide(verdicts: list[dict[str, Any]], permits: list[dict[str, Any]]) -> RenovationStatus:
    """Refused with a forbidden item; waiting while an item that needs a permit has none; else accepted."""
    if any(v["verdict"] == Verdict.FORBIDDEN for v in verdicts):
        return RenovationStatus.REFUSED
    attached = {p["item"] for p in permits}
    if any(v["verdict"] == Verdict.PERMIT and v["item"] not in attached for v in verdicts):
        return RenovationStatus.WAITING_PERMIT
    return RenovationStatus.ACCEPTED


def _basis_text(verdict: dict[str, Any]) -> str:
    return "、".join(str(Basis(b["law"], b.get("article"))) for b in verdict["basis"])


def _why(status: RenovationStatus, verdicts: list[dict[str, Any]], permits: list[dict[str, Any]]) -> str:
    """The decision in words, for the record: each forbidden item with its reason and basis, or each permit
    still missing and who issues it."""
    if status is RenovationStatus.REFUSED:
        return "；".join(
            f"{v['name']}：{v['reason']}（依据{_basis_text(v)}）"
            for v in verdicts
            if v["verdict"] == Verdict.FORBIDDEN
        )
    if status is RenovationStatus.WAITING_PERMIT:
        attached = {p["item"] for p in permits}
        missing = [v for v in verdicts if v["verdict"] == Verdict.PERMIT and v["item"] not in attached]
        return "；".join(f"{v['name']}：须取得{v['authority']}的{v['permit']}" for v in missing)
    return "所列项目均可施工" if not permits else "须审批的项目均已附上审批文件"


# ------------------------------------------------------------------------------------------ the flat

_SUFFIXES = {"building": r"(号楼|号|栋|幢|楼|座)$", "unit": r"(单元|号)$", "room": r"(室|号)$"}


def flat_part(kind: str, text: str) -> str:
    """A building, unit or room as the registrations keep it and a resident's question is matched against:
    full-width digits made plain, spaces dropped, the word after the number too ("１２号楼" is "12")."""
    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return re.sub(_SUFFIXES[kind], "", plain) or plain


def flat_label(building: str, unit: str, room: str) -> str:
    return f"{building}号楼" + (f"{unit}单元" if unit else "") + f"{room}室"


# ---------------------------------------------------------------------------------------- registering

EARLIEST_START = dt.timedelta(days=365)  # a registration filed late, but not for work of years ago
LATEST_START = dt.timedelta(days=365)
LONGEST = dt.timedelta(days=730)
TEXT_LIMITS = {"building": 32, "unit": 32, "room": 32, "owner_name": 64, "contractor": 128}


@dataclass(frozen=True)
class RenovationInput:
    """A registration as validated at the boundary; the service decides everything else."""

    estate_id: int
    building: str
    room: str
    owner_name: str
    owner_phone: str
    contractor: str
    contractor_phone: str
    planned_start: dt.date
    planned_end: dt.date
    items: list[str]
    unit: str = ""
    note: str = ""
    client_request_id: str | None = None  # the mini-program's: its retry returns the first registration


def _company_of(actor: Actor) -> int:
    """The company a property-staff actor files for; anyone else may not file or change a registration."""
    if actor.role is not Role.PROPERTY_STAFF or actor.company_id is None:
        raise Forbidden("只有物业服务企业的工作人员可以办理装修登记", code="not_property_staff")
    return actor.company_id


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(SHANGHAI).date()


def _check_people(data: RenovationInput) -> None:
    required = {
        "building": "楼号",
        "room": "室号",
        "owner_name": "业主姓名",
        "contractor": "施工单位或施工人",
    }
    for name, label in required.items():
        if not getattr(data, name).strip():
            raise ValidationFailed.on(name, f"请填写{label}")
    for name, limit in TEXT_LIMITS.items():
        if len(getattr(data, name)) > limit:
            raise ValidationFailed.on(name, f"最多 {limit} 个字符")
    for name in ("owner_phone", "contractor_phone"):
        if not PHONE.fullmatch(getattr(data, name)):
            raise ValidationFailed.on(name, PHONE_MESSAGE)


def _check_dates(data: RenovationInput, now: dt.datetime) -> None:
    today = _today(now)
    if data.planned_start < today - EARLIEST_START:
        raise ValidationFailed.on("planned_start", "开工日期不能早于一年前")
    if data.planned_start > today + LATEST_START:
        raise ValidationFailed.on("planned_start", "开工日期不能晚于一年后")
    if data.planned_end < data.planned_start:
        raise ValidationFailed.on("planned_end", "完工日期不能早于开工日期")
    if data.planned_end - data.planned_start > LONGEST:
        raise ValidationFailed.on("planned_end", "工期不能超过两年")


def _managed_estate(session: Session, company_id: int, estate_id: int) -> Estate:
    estate = session.get(Estate, estate_id)
    if estate is None or estate.property_company_id != company_id:
        raise ValidationFailed.on("estate_id", "请选择本公司管理的小区")
    return estate


def _open_at_flat(session: Session, estate_id: int, building: str, unit: str, room: str) -> Renovation | None:
    return session.scalar(
        select(Renovation).where(
            Renovation.estate_id == estate_id,
            Renovation.building == building,
            Renovation.unit == unit,
            Renovation.room == room,
            Renovation.status.in_([s.value for s in OPEN]),
        )
    )


def _by_client_request(
    session: Session, actor: Actor, client_request_id: str | None, *, latest: bool = False
) -> Renovation | None:
    if not client_request_id or actor.id is None:
        return None
    query = select(Renovation).where(
        Renovation.created_by == actor.id, Renovation.client_request_id == client_request_id
    )
    if latest:  # a locking read sees the row another transaction committed, past our snapshot
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalar(query)


def register_renovation(
    session: Session, actor: Actor, data: RenovationInput, checklist: Checklist, *, now: dt.datetime
) -> tuple[Renovation, bool]:
    """Register a renovation of a flat of an estate the actor's company manages now, and decide it at once by
    the checklist: refused (a forbidden item, with the reasons), waiting for a permit, or accepted. Returns
    the registration and whether it is new: the same `client_request_id` from the same staff member returns
    the first one."""
    company_id = _company_of(actor)
    existing = _by_client_request(session, actor, data.client_request_id)
    if existing is not None:
        if existing.company_id != company_id:  # filed for the company the staff member was with before
            raise Conflict("该请求号已被使用，请重新提交", code="client_request_reused")
        return existing, False
    _check_people(data)
    _check_dates(data, now)
    estate = _managed_estate(session, company_id, data.estate_id)
    verdicts = check_items(checklist, data.items)
    building, unit, room = (flat_part(k, getattr(data, k)) for k in ("building", "unit", "room"))
    under_way = _open_at_flat(session, estate.id, building, unit, room)
    if under_way is not None:
        raise Conflict(
            f"该房屋已有一份{STATUS_LABELS[RenovationStatus(under_way.status)]}的装修登记（编号 {under_way.id}），"
            "完工后才能再次申报",
            code="renovation_open",
        )
    renovation = Renovation(
        company_id=company_id,
        estate=estate,
        building=building,
        unit=unit,
        room=room,
        owner_name=data.owner_name.strip(),
        owner_phone=data.owner_phone,
        contractor=data.contractor.strip(),
        contractor_phone=data.contractor_phone,
        planned_start=data.planned_start,
        planned_end=data.planned_end,
        items=[v["item"] for v in verdicts],
        verdicts=verdicts,
        permits=[],
        status=RenovationStatus.SUBMITTED,
        note=data.note,
        created_by=actor.id,
        client_request_id=data.client_request_id if actor.id is not None else None,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(renovation)
            session.flush()
    except IntegrityError:
        # the same client_request_id raced in from another request: answer with the registration that won
        raced = _by_client_request(session, actor, data.client_request_id, latest=True)
        if raced is None:
            raise
        return raced, False
    _record(session, renovation, "submit", None, RenovationStatus.SUBMITTED, actor, now=now)
    status = _decide(session, renovation, now=now)
    detail = {"status": status.value, "items": renovation.items}
    record_audit(session, actor, "renovation.register", "renovation", renovation.id, detail=detail, now=now)
    return renovation, True


_DECISION_ACTIONS = {
    RenovationStatus.REFUSED: "refuse",
    RenovationStatus.WAITING_PERMIT: "wait_permit",
    RenovationStatus.ACCEPTED: "accept",
}


def _decide(session: Session, renovation: Renovation, *, now: dt.datetime) -> RenovationStatus:
    """The rules' decision, recorded as the system's step when it changes the status."""
    status = decide(renovation.verdicts, renovation.permits)
    before = RenovationStatus(renovation.status)
    if status is not before:
        why = _why(status, renovation.verdicts, renovation.permits)
        data: dict[str, Any] = {}
        if status is RenovationStatus.REFUSED:
            data["refused"] = [v["item"] for v in renovation.verdicts if v["verdict"] == Verdict.FORBIDDEN]
        renovation.status = status
        _record(
            session,
            renovation,
            _DECISION_ACTIONS[status],
            before,
            status,
            SYSTEM,
            note=why,
            data=data,
            now=now,
        )
    return status


def _record(
    session: Session,
    renovation: Renovation,
    action: str,
    before: RenovationStatus | None,
    after: RenovationStatus | None,
    actor: Actor,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
    now: dt.datetime,
) -> RenovationEvent:
    event = RenovationEvent(
        action=action,
        from_status=before.value if before else None,
        to_status=after.value if after else None,
        actor_id=actor.id,
        actor_label=actor.label,
        note=note,
        data=data or {},
        created_at=now,
    )
    renovation.events.append(event)
    renovation.updated_at = now
    session.flush()
    return event


# ------------------------------------------------------------------------------------------ its life


@dataclass(frozen=True)
class PermitInput:
    item: str
    number: str
    authority: str
    upload_id: str | None = None  # a photo or scan of it


def _own(session: Session, actor: Actor, renovation_id: int) -> Renovation:
    """The actor's company's registration; another company's is NotFound, so its existence does not leak."""
    company_id = _company_of(actor)
    renovation = session.get(Renovation, renovation_id)
    if renovation is None or renovation.company_id != company_id:
        raise NotFound("没有这份装修登记", code="renovation_not_found")
    return renovation


def _permit_scan(session: Session, upload_id: str | None, uploader_id: int | None) -> str | None:
    """The upload id of a permit's photo, if the one attaching it uploaded it: a mini-program user their own
    upload (`uploader_id`), the console a file it has just stored (no owner)."""
    if upload_id is None:
        return None
    upload = session.get(Upload, upload_id)
    if upload is None or upload.owner_id != uploader_id:
        raise ValidationFailed.on("upload_id", "照片不存在或不是您上传的")
    return upload.id


def attach_permit(
    session: Session,
    actor: Actor,
    renovation_id: int,
    permit: PermitInput,
    *,
    uploader_id: int | None = None,
    now: dt.datetime,
) -> Renovation:
    """Attach the permit of an item that needs one (its number, the authority that issued it, a photo); when
    every such item has one, the registration is accepted. A permit attached again replaces the first."""
    renovation = _own(session, actor, renovation_id)
    if renovation.status != RenovationStatus.WAITING_PERMIT:
        status = STATUS_LABELS[RenovationStatus(renovation.status)]
        raise Conflict(f"这份登记{status}，不需要再附审批文件", code="renovation_not_waiting")
    verdict = next((v for v in renovation.verdicts if v["item"] == permit.item), None)
    if verdict is None or verdict["verdict"] != Verdict.PERMIT:
        raise ValidationFailed.on("item", "这一项不需要审批，或不在本次申报中")
    if not permit.number.strip() or len(permit.number) > 64:
        raise ValidationFailed.on("number", "请填写审批文件编号（最多 64 个字符）")
    if not permit.authority.strip() or len(permit.authority) > 64:
        raise ValidationFailed.on("authority", "请填写审批部门（最多 64 个字符）")
    entry = {
        "item": permit.item,
        "number": permit.number.strip(),
        "authority": permit.authority.strip(),
        "upload_id": _permit_scan(session, permit.upload_id, uploader_id),
        "attached_at": now.isoformat(),
        "attached_by": actor.label,
    }
    replaced = any(p["item"] == permit.item for p in renovation.permits)
    renovation.permits = [p for p in renovation.permits if p["item"] != permit.item] + [entry]
    waiting = RenovationStatus.WAITING_PERMIT
    note = f"{verdict['name']}：{entry['authority']} {entry['number']}"
    _record(
        session, renovation, "permit", waiting, waiting, actor, note=note, data={"item": permit.item}, now=now
    )
    _decide(session, renovation, now=now)
    detail = {"item": permit.item, "replaced": replaced, "status": renovation.status}
    record_audit(
        session, actor, "renovation.attach_permit", "renovation", renovation.id, detail=detail, now=now
    )
    return renovation


# a step staff take: the statuses it leaves from, where it goes, and the timestamp it sets
_STEPS: dict[str, tuple[RenovationStatus, RenovationStatus, str]] = {
    "start": (RenovationStatus.ACCEPTED, RenovationStatus.IN_PROGRESS, "started_at"),
    "complete": (RenovationStatus.IN_PROGRESS, RenovationStatus.COMPLETED, "completed_at"),
}
_NOT_NOW = {
    "start": "只有已登记的装修才能开工（这份登记{}）",
    "complete": "只有施工中的装修才能完工（这份登记{}）",
}


def _step(
    session: Session, actor: Actor, renovation_id: int, name: str, note: str, now: dt.datetime
) -> Renovation:
    renovation = _own(session, actor, renovation_id)
    source, target, stamp = _STEPS[name]
    if renovation.status != source:
        status = STATUS_LABELS[RenovationStatus(renovation.status)]
        raise Conflict(_NOT_NOW[name].format(status), code="renovation_wrong_status")
    if len(note) > 500:
        raise ValidationFailed.on("note", "最多 500 个字符")
    renovation.status = target
    setattr(renovation, stamp, now)
    _record(session, renovation, name, source, target, actor, note=note, now=now)
    return renovation


def start_renovation(
    session: Session, actor: Actor, renovation_id: int, *, note: str = "", now: dt.datetime
) -> Renovation:
    """开工: an accepted registration's work begins."""
    renovation = _step(session, actor, renovation_id, "start", note, now)
    record_audit(session, actor, "renovation.start", "renovation", renovation.id, now=now)
    return renovation


def complete_renovation(
    session: Session, actor: Actor, renovation_id: int, *, note: str = "", now: dt.datetime
) -> Renovation:
    """完工: the work in progress is done."""
    renovation = _step(session, actor, renovation_id, "complete", note, now)
    record_audit(session, actor, "renovation.complete", "renovation", renovation.id, now=now)
    return renovation


# ------------------------------------------------------------------------------------------- reading


def _reader_scope(actor: Actor) -> int | None:
    """The company whose registrations the actor reads (None: every company's, for the bureau)."""
    if actor.role in BUREAU_ROLES:
        return None
    return _company_of(actor)


def get_renovation(session: Session, actor: Actor, renovation_id: int) -> Renovation:
    """A registration the actor may read: their company's own, or, for the bureau, any."""
    company_id = _reader_scope(actor)
    renovation = session.get(Renovation, renovation_id)
    if renovation is None or (company_id is not None and renovation.company_id != company_id):
        raise NotFound("没有这份装修登记", code="renovation_not_found")
    return renovation


@dataclass(frozen=True)
class RenovationFilter:
    estate_id: int | None = None
    status: str | None = None
    building: str = ""
    unit: str = ""
    room: str = ""
    company_id: int | None = None  # the bureau's filter; a company's staff always see their own


def _filtered(query: Select[Renovation], filters: RenovationFilter) -> Select[Renovation]:
    if filters.estate_id is not None:
        query = query.where(Renovation.estate_id == filters.estate_id)
    if filters.status:
        query = query.where(Renovation.status == filters.status)
    for kind in ("building", "unit", "room"):
        if value := getattr(filters, kind).strip():
            query = query.where(getattr(Renovation, kind) == flat_part(kind, value))
    return query


def list_renovations(
    session: Session, actor: Actor, filters: RenovationFilter, *, page: int = 1, per_page: int = 20
) -> Page[Renovation]:
    """A company's registrations (the bureau: any company's, or the one it filters by), newest first."""
    company_id = _reader_scope(actor)
    if company_id is None:
        company_id = filters.company_id
    query = select(Renovation).options(selectinload(Renovation.estate), selectinload(Renovation.company))
    if company_id is not None:
        query = query.where(Renovation.company_id == company_id)
    return paginate(session, _filtered(query, filters).order_by(Renovation.id.desc()), page, per_page)


def estates_for_registration(session: Session, actor: Actor) -> list[Estate]:
    """The estates the actor's company manages now: those it may register a renovation in."""
    company_id = _company_of(actor)
    return list(
        session.scalars(select(Estate).where(Estate.property_company_id == company_id).order_by(Estate.name))
    )


def filter_choices(session: Session, actor: Actor) -> tuple[list[Estate], list[PropertyCompany]]:
    """The estates and (for the bureau) companies a list of registrations may be filtered by."""
    company_id = _reader_scope(actor)
    if company_id is not None:
        return estates_for_registration(session, actor), []
    return estates_and_companies_of(session, Renovation.estate_id, Renovation.company_id)


# --------------------------------------------------------------------------------- what each one sees


@dataclass(frozen=True)
class ItemView:
    code: str
    name: str
    verdict: str
    verdict_label: str
    reason: str
    basis: str
    permit: str = ""  # what the item needs, and from whom
    authority: str = ""
    permit_number: str | None = None  # the permit attached, if any
    permit_authority: str | None = None
    permit_upload_id: str | None = None  # its photo: only in the company's own view


@dataclass(frozen=True)
class EventView:
    action: str
    label: str
    from_status: str | None
    to_status: str | None
    who: str
    note: str
    at: dt.datetime


@dataclass(frozen=True)
class RenovationView:
    """A registration as one reader sees it. Outside the company's own view the owner's name and phone, the
    contractor's phone, the company's note and the photos of the permits (which name the applicant) are None."""

    id: int
    company_id: int
    company_name: str
    estate_id: int
    estate_name: str
    building: str
    unit: str
    room: str
    flat: str
    contractor: str
    planned_start: dt.date
    planned_end: dt.date
    status: str
    status_label: str
    items: list[ItemView]
    events: list[EventView]
    created_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    full: bool
    owner_name: str | None = None
    owner_phone: str | None = None
    contractor_phone: str | None = None
    note: str | None = None

    def of(self, verdict: Verdict) -> list[ItemView]:
        return [item for item in self.items if item.verdict == verdict]

    @property
    def missing_permits(self) -> list[ItemView]:
        return [item for item in self.of(Verdict.PERMIT) if item.permit_number is None]

    @property
    def registered(self) -> bool:
        return RenovationStatus(self.status) in REGISTERED


def _item_view(verdict: dict[str, Any], permits: dict[str, dict[str, Any]], full: bool) -> ItemView:
    permit = permits.get(verdict["item"], {})
    return ItemView(
        code=verdict["item"],
        name=verdict["name"],
        verdict=verdict["verdict"],
        verdict_label=VERDICT_LABELS[Verdict(verdict["verdict"])],
        reason=verdict["reason"],
        basis=_basis_text(verdict),
        permit=verdict.get("permit", ""),
        authority=verdict.get("authority", ""),
        permit_number=permit.get("number"),
        permit_authority=permit.get("authority"),
        permit_upload_id=permit.get("upload_id") if full else None,
    )


def _view(renovation: Renovation, *, full: bool) -> RenovationView:
    permits = {p["item"]: p for p in renovation.permits}
    status = RenovationStatus(renovation.status)
    view = RenovationView(
        id=renovation.id,
        company_id=renovation.company_id,
        company_name=renovation.company.name,
        estate_id=renovation.estate_id,
        estate_name=renovation.estate.name,
        building=renovation.building,
        unit=renovation.unit,
        room=renovation.room,
        flat=flat_label(renovation.building, renovation.unit, renovation.room),
        contractor=renovation.contractor,
        planned_start=renovation.planned_start,
        planned_end=renovation.planned_end,
        status=status.value,
        status_label=STATUS_LABELS[status],
        items=[_item_view(v, permits, full) for v in renovation.verdicts],
        events=[
            EventView(
                action=e.action,
                label=EVENT_LABELS.get(e.action, e.action),
                from_status=e.from_status,
                to_status=e.to_status,
                who=e.actor_label,
                note=e.note,
                at=e.created_at,
            )
            for e in renovation.events
        ],
        created_at=renovation.created_at,
        started_at=renovation.started_at,
        completed_at=renovation.completed_at,
        full=full,
    )
    if not full:
        return view
    return dataclasses.replace(
        view,
        owner_name=renovation.owner_name,
        owner_phone=renovation.owner_phone,
        contractor_phone=renovation.contractor_phone,
        note=renovation.note,
    )


def public_view(renovation: Renovation) -> RenovationView:
    """A registration as anyone outside its company sees it: no owner's name or phone, no contractor's phone,
    no internal note, no photo of a permit."""
    return _view(renovation, full=False)


def view_for(actor: Actor, renovation: Renovation) -> RenovationView:
    """The company's own view for its staff; the public view for everyone else (the bureau included)."""
    own = actor.role is Role.PROPERTY_STAFF and actor.company_id == renovation.company_id
    return _view(renovation, full=own)


def permit_scan_of(session: Session, actor: Actor, renovation_id: int, upload_id: str) -> Upload:
    """The photo of a permit attached to the actor's company's registration (it names the applicant)."""
    renovation = _own(session, actor, renovation_id)
    if upload_id not in {p.get("upload_id") for p in renovation.permits}:
        raise NotFound(code="upload_not_found")
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(code="upload_not_found")
    return upload


# ------------------------------------------------------------------------------------------ the notice


@dataclass(frozen=True)
class Notice:
    """The renovation notice (装修告知书) the company prints and gives the owner."""

    renovation: RenovationView
    company: PropertyCompany
    forbidden: list[ChecklistItem]  # every forbidden act of the checklist, not only those chosen
    owner_duties: tuple[str, ...]
    contractor_duties: tuple[str, ...]
    company_duties: str
    accepted_on: dt.date | None
    printed_on: dt.date


def renovation_notice(
    session: Session, actor: Actor, renovation_id: int, checklist: Checklist, *, now: dt.datetime
) -> Notice:
    """The notice of the actor's company's registration, once it is accepted; its printing is audited (it
    shows the owner's name)."""
    renovation = _own(session, actor, renovation_id)
    if RenovationStatus(renovation.status) not in REGISTERED:
        status = STATUS_LABELS[RenovationStatus(renovation.status)]
        raise Conflict(f"这份登记{status}，登记通过后才能打印装修告知书", code="renovation_not_accepted")
    accepted = next((e.created_at for e in renovation.events if e.action == "accept"), None)
    record_audit(session, actor, "renovation.print_notice", "renovation", renovation.id, now=now)
    return Notice(
        renovation=view_for(actor, renovation),
        company=renovation.company,
        forbidden=checklist.of(Verdict.FORBIDDEN),
        owner_duties=checklist.owner_duties,
        contractor_duties=checklist.contractor_duties,
        company_duties=checklist.company_duties,
        accepted_on=_today(accepted) if accepted else None,
        printed_on=_today(now),
    )


# --------------------------------------------------------------------------------- the neighbours' question

LOOKUPS_PER_DAY = 30  # a neighbour asks about a flat or two; nobody needs the whole estate


@dataclass(frozen=True)
class FlatItem:
    name: str
    approved: bool  # an item that needed a permit, and has it


@dataclass(frozen=True)
class FlatAnswer:
    """What a resident learns about a flat: whether it has a registered renovation, its dates, status and the
    work it may do. Never who owns it, nor who does the work."""

    registered: bool
    flat: str
    status: str | None = None
    status_label: str | None = None
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    items: list[FlatItem] = field(default_factory=list)


def lookups_today(session: Session, user_id: int, now: dt.datetime) -> int:
    start = dt.datetime.combine(_today(now), dt.time(), SHANGHAI)
    query = select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "renovation.lookup",
        AuditEntry.actor_kind == "resident",
        AuditEntry.actor_id == user_id,
        AuditEntry.at >= start,
    )
    return session.scalar(query) or 0


def _registered_at(
    session: Session, estate_id: int, building: str, unit: str, room: str
) -> Renovation | None:
    query = select(Renovation).where(
        Renovation.estate_id == estate_id,
        Renovation.building == building,
        Renovation.room == room,
        Renovation.status.in_([s.value for s in REGISTERED]),
    )
    if unit:  # as the duty cross-check matches: a question without its unit finds the room in any unit
        query = query.where(or_(Renovation.unit == unit, Renovation.unit == ""))
    return session.scalar(query.order_by(Renovation.planned_start.desc(), Renovation.id.desc()).limit(1))


def ask_about_flat(
    session: Session,
    user: User,
    *,
    estate_id: int,
    building: str,
    room: str,
    unit: str = "",
    now: dt.datetime,
    daily_limit: int = LOOKUPS_PER_DAY,
) -> FlatAnswer:
    """A resident asks whether a flat (the whole address: estate, building and room) has a registered
    renovation. Only accepted, in-progress and completed registrations count; each question is on the audit
    trail, and a resident may ask `daily_limit` a day, so that nobody walks an estate flat by flat."""
    if session.get(Estate, estate_id) is None:
        raise ValidationFailed.on("estate_id", "没有这个小区")
    parts = {k: flat_part(k, v) for k, v in (("building", building), ("unit", unit), ("room", room))}
    for kind, label in (("building", "楼号"), ("room", "室号")):
        if not parts[kind]:
            raise ValidationFailed.on(kind, f"请填写{label}：须写明小区、楼号和室号")
    if lookups_today(session, user.id, now) >= daily_limit:
        raise RateLimited(f"每人每天最多查询 {daily_limit} 次，请明天再试", code="daily_lookup_limit")
    renovation = _registered_at(session, estate_id, parts["building"], parts["unit"], parts["room"])
    record_audit(
        session,
        Actor(Role.RESIDENT, user.id, "居民"),
        "renovation.lookup",
        "estate",
        estate_id,
        detail={**parts, "found": renovation is not None},
        now=now,
    )
    if renovation is None:
        return FlatAnswer(registered=False, flat=flat_label(parts["building"], parts["unit"], parts["room"]))
    status = RenovationStatus(renovation.status)
    return FlatAnswer(
        registered=True,
        flat=flat_label(renovation.building, renovation.unit, renovation.room),
        status=status.value,
        status_label=STATUS_LABELS[status],
        planned_start=renovation.planned_start,
        planned_end=renovation.planned_end,
        items=[
            FlatItem(name=v["name"], approved=v["verdict"] == Verdict.PERMIT)
            for v in renovation.verdicts
            if v["verdict"] != Verdict.FORBIDDEN
        ],
    )
