"""Typed models of cases, their timeline, photos, supporters and tracking-number counters."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.accounts.models import User
from backend.db import Base, UTCDateTime, utcnow
from backend.errors import label_choices
from backend.org.models import Estate, Squad, Town
from backend.staff.models import StaffUser
from backend.taxonomy.models import Category
from backend.uploads.models import Upload


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 已提交: waiting for dispatch (the bureau's triage queue when no town is known)
    DISPATCHED = "dispatched"  # 已派单
    SIGNED = "signed"  # 已签收: the clock starts
    INVESTIGATING = "investigating"  # 核查中
    VERIFIED = "verified"  # 属实
    UNFOUNDED = "unfounded"  # 不属实
    HANDLING = "handling"  # 处置中
    RESOLVED = "resolved"  # 已办结
    CLOSED = "closed"  # 已归档
    RETURNED = "returned"  # 退单, waiting for the bureau to re-dispatch
    TRANSFERRED = "transferred"  # 转办 to another department
    MERGED = "merged"  # 并单 into an earlier case
    WITHDRAWN = "withdrawn"  # 撤回 by the reporter


class CaseSource(enum.StrEnum):
    MINI_PROGRAM = "mini_program"
    BOT = "bot"
    HOTLINE = "hotline_12345"
    PROPERTY = "property_report"
    TRANSFER = "department_transfer"
    INSPECTION = "squad_inspection"
    DETECTION = "detection"


SOURCE_LABELS = {
    CaseSource.MINI_PROGRAM: "小程序",
    CaseSource.BOT: "智能客服",
    CaseSource.HOTLINE: "12345热线",
    CaseSource.PROPERTY: "物业上报",
    CaseSource.TRANSFER: "部门移送",
    CaseSource.INSPECTION: "队员巡查",
    CaseSource.DETECTION: "智能发现",
}
label_choices(
    {source.value: label for source, label in SOURCE_LABELS.items()}
)  # a refused source is named in these words


class Priority(enum.IntEnum):
    NORMAL = 0
    HIGH = 1  # a key estate
    URGENT = 2  # construction in progress


class Case(Base):
    __tablename__ = "case_file"
    __table_args__ = (
        UniqueConstraint("reporter_id", "client_request_id"),
        UniqueConstraint("source", "external_ref"),  # e.g. a 12345 order number: the same order is one case
        # the statistics' estate figures for one category or one source, read from these indexes alone
        Index("ix_case_file_category_reported", "category_code", "created_at", "estate_id"),
        Index("ix_case_file_source_reported", "source", "created_at", "estate_id"),
        # a squad's inbox: its cases in a state in the inbox's order (the soonest deadline first, the more urgent
        # and then the older at the same one), so that a page reads its own rows, not the whole tab's
        Index(
            "ix_case_file_squad_inbox", "squad_id", "status", "next_due_at", column("priority").desc(), "id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(24), default=CaseSource.MINI_PROGRAM)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    source_detail: Mapped[str] = mapped_column(String(128), default="")  # e.g. the transferring department
    status: Mapped[str] = mapped_column(String(16), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"), index=True)
    category_confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text)
    in_progress: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL)

    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estate.id"), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"), index=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    building: Mapped[str] = mapped_column(String(32), default="")
    unit: Mapped[str] = mapped_column(String(32), default="")
    room: Mapped[str] = mapped_column(String(32), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    reporter_name: Mapped[str] = mapped_column(
        String(64), default=""
    )  # from the hotline; never shown publicly
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    client_request_id: Mapped[str | None] = mapped_column(String(64))

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # every change to a case moves it: the statistics' summary tables are refreshed from it
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, index=True
    )
    sign_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    onsite_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handle_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the deadline of the current stage (sign, then handle), kept by every transition
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # the earliest deadline still running: the stage's, or the on-site clock's while nobody has been on site;
    # what the inbox sorts by and what "due today" and "overdue" mean
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # the first on-site step (a field note while investigating, or a finding): it stops the on-site clock
    onsite_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    public_reply: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str | None] = mapped_column(String(24))
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    supporter_count: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    transferred_to: Mapped[str] = mapped_column(String(32), default="")
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)  # 督办 by the bureau
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    due_soon_noticed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    overdue_noticed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the same three notices for the on-site clock, which runs beside the stage's (its deadline never moves)
    onsite_due_soon_noticed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    onsite_overdue_noticed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    onsite_escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    category: Mapped[Category | None] = relationship()
    estate: Mapped[Estate | None] = relationship()
    town: Mapped[Town | None] = relationship()
    squad: Mapped[Squad | None] = relationship()
    reporter: Mapped[User | None] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    parent: Mapped[Case | None] = relationship(remote_side="Case.id")
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )
    photos: Mapped[list[CasePhoto]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CasePhoto.position"
    )


class CaseEvent(Base):
    """One step on a case's timeline: who, when, what, why, and whether the reporter may see it."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))  # resident, staff, system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")


class PhotoKind(enum.StrEnum):
    """Where a photo on a case came from, which decides who may see it."""

    REPORT = "report"  # sent with the report: its reporter sees their own
    NOTE = "handling"  # attached to an internal note from the field: staff only
    RESOLUTION = "resolution"  # published with the public reply: everyone following the case
    PROPERTY = "property"  # from a property company's patrol finding: staff only


class CasePhoto(Base):
    __tablename__ = "case_photo"
    __table_args__ = (UniqueConstraint("case_id", "upload_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str] = mapped_column(ForeignKey("upload.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=PhotoKind.REPORT)  # a PhotoKind
    position: Mapped[int] = mapped_column(Integer, default=0)

    case: Mapped[Case] = relationship(back_populates="photos")
    upload: Mapped[Upload] = relationship()


class CaseSupporter(Base):
    """A resident who pressed 我也遇到 instead of filing a duplicate."""

    __tablename__ = "case_supporter"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrackingCounter(Base):
    """The last tracking number issued on a day (Shanghai time); its row lock serialises concurrent issues."""

    __tablename__ = "tracking_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseExtension(Base):
    """A squad's request for more time (延期), and the bureau's decision."""

    __tablename__ = "case_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    working_days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, approved, rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
