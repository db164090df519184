"""Typed models of towns, squads, estates and property companies."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.cache import ESTATES, built_from
from backend.db import Base, UTCDateTime, utcnow


class Town(Base):
    """One of Qingpu's 11 towns and sub-districts (街镇)."""

    __tablename__ = "town"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # 街道 or 镇
    position: Mapped[int] = mapped_column(Integer, default=0)

    squad: Mapped[Squad | None] = relationship(back_populates="town", uselist=False)


class Squad(Base):
    """The enforcement squad (中队) of one town."""

    __tablename__ = "squad"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))

    town: Mapped[Town] = relationship(back_populates="squad")


class PropertyCompany(Base):
    """A property-management company (物业服务企业)."""

    __tablename__ = "property_company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Estate(Base):
    """A residential estate (小区): in one town, managed by at most one property company."""

    __tablename__ = "estate"
    __table_args__ = (UniqueConstraint("town_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"), index=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    is_key: Mapped[bool] = mapped_column(Boolean, default=False)
    property_company_id: Mapped[int | None] = mapped_column(ForeignKey("property_company.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    town: Mapped[Town] = relationship()
    property_company: Mapped[PropertyCompany | None] = relationship()
    aliases: Mapped[list[EstateAlias]] = relationship(
        back_populates="estate", cascade="all, delete-orphan", order_by="EstateAlias.alias"
    )


class EstateAlias(Base):
    """Another name residents use for an estate."""

    __tablename__ = "estate_alias"
    __table_args__ = (UniqueConstraint("estate_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(128), index=True)

    estate: Mapped[Estate] = relationship(back_populates="aliases")


# The estate search (GET /estates) is kept per process and rebuilt after any write to these.
built_from(ESTATES, Town, Squad, PropertyCompany, Estate, EstateAlias)
