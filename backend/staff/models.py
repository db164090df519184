"""Typed models of staff accounts and the notices the console shows them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow
from backend.org.models import PropertyCompany, Squad


class StaffUser(Base):
    """A console user. Officers and squad leaders belong to a squad, property staff to a company."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("property_company.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    session_version: Mapped[int] = mapped_column(Integer, default=1)  # bumped to end every session at once
    # a property company's manager creates and disables the company's own staff accounts
    company_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    # the mini-program user (WeChat account) bound to this account with a one-time code; unbound: None
    wechat_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    squad: Mapped[Squad | None] = relationship()
    company: Mapped[PropertyCompany | None] = relationship()


class StaffNotice(Base):
    """Something the console tells a squad (its leader) or the bureau: due soon, overdue, escalated, urged."""

    __tablename__ = "staff_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squad.id"), index=True)
    for_bureau: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
