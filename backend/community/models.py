"""Typed models of campaign events with their sign-ups, and of residents' suggestions with their record."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow
from backend.org.models import Estate, Squad, Town
from backend.taxonomy.models import Category


class EventKind(enum.StrEnum):
    PUBLIC_DAY = "public_day"  # 7·15 城管公众日
    OUTREACH_WEEK = "outreach_week"  # 进社区活动周
    LECTURE = "lecture"  # 普法宣传
    CONSULTATION = "consultation"  # 法律咨询


class Event(Base):
    """A campaign event a studio announces: when, where (an estate, or a town), how many may come."""

    __tablename__ = "campaign_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(255))
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"), index=True)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estate.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    town: Mapped[Town] = relationship()
    estate: Mapped[Estate | None] = relationship()
    signups: Mapped[list[EventSignup]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventSignup.id"
    )


class EventSignup(Base):
    """A resident signed up for an event; cancelled, reminded the day before, and whether they came."""

    __tablename__ = "event_signup"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("campaign_event.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attended: Mapped[bool | None] = mapped_column(Boolean)

    event: Mapped[Event] = relationship(back_populates="signups")


class SuggestionStatus(enum.StrEnum):
    RECEIVED = "received"  # 已收到
    REPLIED = "replied"  # 已答复
    FORWARDED = "forwarded"  # 已转交
    CLOSED = "closed"  # 已办结


class Suggestion(Base):
    """A resident's suggestion (人民建议): text, photos, the estate and category it is about. Studio editors
    reply, tag, forward and close it; the resident is told at each step. Never shown to property companies."""

    __tablename__ = "suggestion"
    __table_args__ = (UniqueConstraint("user_id", "client_request_id"),)  # a retried send is one suggestion

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    estate_id: Mapped[int | None] = mapped_column(ForeignKey("estate.id"))
    category_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"))
    status: Mapped[str] = mapped_column(String(12), index=True, default=SuggestionStatus.RECEIVED)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    reply: Mapped[str] = mapped_column(Text, default="")
    forwarded_squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"))
    forwarded_to_bureau: Mapped[bool] = mapped_column(Boolean, default=False)
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    estate: Mapped[Estate | None] = relationship()
    category: Mapped[Category | None] = relationship()
    forwarded_squad: Mapped[Squad | None] = relationship()
    events: Mapped[list[SuggestionEvent]] = relationship(
        back_populates="suggestion", cascade="all, delete-orphan", order_by="SuggestionEvent.id"
    )


class SuggestionEvent(Base):
    """One step on a suggestion's record; `public` steps are what the resident reads."""

    __tablename__ = "suggestion_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestion.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    suggestion: Mapped[Suggestion] = relationship(back_populates="events")
