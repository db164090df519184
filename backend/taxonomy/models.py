"""Typed models of category groups, categories and their legal basis."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.cache import CATEGORIES, built_from
from backend.db import Base


class CategoryGroup(Base):
    """One of the campaign's four groups of violations."""

    __tablename__ = "category_group"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Category(Base):
    """A category code of DOMAIN.md, with its default time limits."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    group_code: Mapped[str | None] = mapped_column(ForeignKey("category_group.code"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    sign_working_days: Mapped[int | None] = mapped_column(Integer)
    onsite_hours: Mapped[int | None] = mapped_column(Integer)
    onsite_hours_in_progress: Mapped[int | None] = mapped_column(Integer)
    handle_working_days: Mapped[int | None] = mapped_column(Integer)

    group: Mapped[CategoryGroup | None] = relationship()
    legal_basis: Mapped[list[LegalBasis]] = relationship(
        back_populates="category", cascade="all, delete-orphan", order_by="LegalBasis.position"
    )
    keywords: Mapped[list[CategoryKeyword]] = relationship(
        back_populates="category", cascade="all, delete-orphan", order_by="CategoryKeyword.keyword"
    )


class LegalBasis(Base):
    """A regulation (and, where checked, its article) a category rests on."""

    __tablename__ = "legal_basis"
    __table_args__ = (UniqueConstraint("category_code", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    regulation: Mapped[str] = mapped_column(String(128))
    article: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category] = relationship(back_populates="legal_basis")


class CategoryKeyword(Base):
    """A word residents use for a category, for suggesting one from free text."""

    __tablename__ = "category_keyword"
    __table_args__ = (UniqueConstraint("category_code", "keyword"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(String(64))

    category: Mapped[Category] = relationship(back_populates="keywords")


# The catalog (GET /categories, the keyword guess) is kept per process and rebuilt after any write to these.
built_from(CATEGORIES, CategoryGroup, Category, LegalBasis, CategoryKeyword)
