"""Typed models of property companies' work: who manages which estate since when, renovation registrations,
patrols and their findings, the one-time codes that bind a WeChat account to a staff account, and the duty
cross-check recorded on a verified case."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow
from backend.org.models import Estate, PropertyCompany
from backend.staff.models import StaffUser


class EstateManagement(Base):
    """A spell of a company managing an estate (an estate has at most one company at a time). The spell that
    has not ended is the current one, mirrored in Estate.property_company_id."""

    __tablename__ = "estate_management"

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("property_company.id"), index=True)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    estate: Mapped[Estate] = relationship()
    company: Mapped[PropertyCompany] = relationship()


class BindingCode(Base):
    """A short-lived one-time code, shown in the console to a staff member, that binds their WeChat account
    (the mini-program's user) to their console account. Only its SHA-256 is kept."""

    __tablename__ = "staff_binding_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    staff: Mapped[StaffUser] = relationship()


class RenovationStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 已申报, being checked
    REFUSED = "refused"  # 不予登记: a forbidden item
    WAITING_PERMIT = "waiting_permit"  # 待补审批: an item needs a permit not yet attached
    ACCEPTED = "accepted"  # 已登记: the notice may be printed
    IN_PROGRESS = "in_progress"  # 施工中
    COMPLETED = "completed"  # 已完工


class Renovation(Base):
    """A renovation registration (装修申报登记) of one flat, filed by its estate's property company."""

    __tablename__ = "renovation"
    # a mini-program's retry of the same registration (sent again from a stairwell) is one registration
    __table_args__ = (UniqueConstraint("created_by", "client_request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("property_company.id"), index=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id"), index=True)
    building: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(32), default="")
    room: Mapped[str] = mapped_column(String(32))
    owner_name: Mapped[str] = mapped_column(String(64))
    owner_phone: Mapped[str] = mapped_column(String(20))
    contractor: Mapped[str] = mapped_column(String(128), default="")
    contractor_phone: Mapped[str] = mapped_column(String(20), default="")
    planned_start: Mapped[dt.date] = mapped_column(Date)
    planned_end: Mapped[dt.date] = mapped_column(Date)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes of content/renovation.toml
    # the check of each item: [{item, verdict: forbidden|permit|allowed, permit?, authority?, basis}]
    verdicts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # permits attached for the items that need one: [{item, number, upload_id?, attached_at}]
    permits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True, default=RenovationStatus.SUBMITTED)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    company: Mapped[PropertyCompany] = relationship()
    estate: Mapped[Estate] = relationship()
    events: Mapped[list[RenovationEvent]] = relationship(
        back_populates="renovation", cascade="all, delete-orphan", order_by="RenovationEvent.id"
    )


class RenovationEvent(Base):
    """One step on a registration's record: who, when, from which status to which, and why."""

    __tablename__ = "renovation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    renovation_id: Mapped[int] = mapped_column(ForeignKey("renovation.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    renovation: Mapped[Renovation] = relationship(back_populates="events")


class Patrol(Base):
    """A patrol of an estate by a company's staff member (巡查记录): when, where they went, what they found.
    A patrol filed late keeps the time it happened."""

    __tablename__ = "patrol"
    # a mini-program's retry of the same filing (a patrol sent again from a basement) is one patrol
    __table_args__ = (UniqueConstraint("patroller_id", "client_request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("property_company.id"), index=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id"), index=True)
    patroller_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    patrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)  # 楼道, 屋顶平台, 绿地 …
    note: Mapped[str] = mapped_column(Text, default="")
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    company: Mapped[PropertyCompany] = relationship()
    estate: Mapped[Estate] = relationship()
    patroller: Mapped[StaffUser | None] = relationship()
    findings: Mapped[list[PatrolFinding]] = relationship(
        back_populates="patrol", cascade="all, delete-orphan", order_by="PatrolFinding.id"
    )


class FindingAction(enum.StrEnum):
    """What the company did about a finding (上海市住宅物业管理规定 第五十九条)."""

    DISSUADED = "dissuaded"  # 劝阻
    STOPPED = "stopped"  # 制止
    RECTIFIED = "rectified"  # 已整改
    REPORTED = "reported"  # 上报


class PatrolFinding(Base):
    """Something a patrol found: a category, a place, a description, photos and the action taken. Reported
    (上报) at once, or dissuaded or stopped and not put right within 24 hours of being found, it becomes a
    case with source `property_report`."""

    __tablename__ = "patrol_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrol.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("property_company.id"), index=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"))
    building: Mapped[str] = mapped_column(String(32), default="")
    unit: Mapped[str] = mapped_column(String(32), default="")
    room: Mapped[str] = mapped_column(String(32), default="")
    common_area: Mapped[str] = mapped_column(String(64), default="")  # 楼道, 屋顶平台 … when not a flat
    description: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # upload ids
    action: Mapped[str] = mapped_column(String(16))  # a FindingAction
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    rectified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # put right after dissuasion
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when it became a case
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    renovation_id: Mapped[int | None] = mapped_column(ForeignKey("renovation.id"), index=True)

    patrol: Mapped[Patrol] = relationship(back_populates="findings")
    estate: Mapped[Estate] = relationship()


class DutyCheck(Base):
    """The duty cross-check (履职检查) recorded on a verified case: the flat's registration, and whether the
    estate's company knew (a finding at that place) and reported within 24 hours."""

    __tablename__ = "duty_check"
    __table_args__ = (UniqueConstraint("case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("property_company.id"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    window_days: Mapped[int] = mapped_column(Integer)
    registered: Mapped[bool | None] = mapped_column(Boolean)  # None: not about a flat
    renovation_id: Mapped[int | None] = mapped_column(ForeignKey("renovation.id"))
    knew: Mapped[bool] = mapped_column(Boolean, default=False)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_finding.id"))
    # None: the company did not know (nothing to report) or there is no company
    reported_in_time: Mapped[bool | None] = mapped_column(Boolean)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # a clear failure of its duty
    summary: Mapped[str] = mapped_column(Text, default="")
    negligence_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))

    company: Mapped[PropertyCompany | None] = relationship()
