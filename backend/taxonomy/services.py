"""Rules of the taxonomy: seeding the categories from content and listing them."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.cache import CATEGORIES, cached
from backend.db import assign_changed
from backend.errors import label_choices
from backend.taxonomy.models import Category, CategoryGroup, CategoryKeyword, LegalBasis

# The categories of docs/domain.md: these codes, no more and no fewer (seeding checks the taxonomy against them).
InScopeCategory = Literal[
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
    "property_negligence",
    "property_duty_violation",
]
CategoryCode = Literal[InScopeCategory, "out_of_scope"]
CATEGORY_CODES: tuple[str, ...] = (*get_args(InScopeCategory), "out_of_scope")


class GroupSeed(BaseModel):
    code: str
    name: str


class LegalBasisSeed(BaseModel):
    regulation: str = Field(min_length=2)
    article: str | None = Field(default=None, pattern=r"^第[一二三四五六七八九十百零]+条")
    summary: str = ""


class CategorySeed(BaseModel):
    code: str
    group: str | None = None
    name: str
    description: str = ""
    sign_working_days: int | None = Field(default=None, ge=1)
    onsite_hours: int | None = Field(default=None, ge=1)
    onsite_hours_in_progress: int | None = Field(default=None, ge=1)
    handle_working_days: int | None = Field(default=None, ge=1)
    keywords: list[str] = []
    legal_basis: list[LegalBasisSeed] = []


class TaxonomySeed(BaseModel):
    groups: list[GroupSeed]
    categories: list[CategorySeed]

    def check_codes(self) -> None:
        codes = [c.code for c in self.categories]
        if sorted(codes) != sorted(CATEGORY_CODES):
            missing = set(CATEGORY_CODES) - set(codes)
            extra = set(codes) - set(CATEGORY_CODES)
            raise ValueError(f"taxonomy must have DOMAIN.md's 14 codes; missing {missing}, unknown {extra}")
        groups = {g.code for g in self.groups}
        for c in self.categories:
            if c.group is not None and c.group not in groups:
                raise ValueError(f"category {c.code} names unknown group {c.group}")


def seed_taxonomy(session: Session, seed: TaxonomySeed) -> int:
    """Create or update groups and categories to match the content; returns how many rows changed."""
    seed.check_codes()
    changed = 0
    groups = {g.code: g for g in session.scalars(select(CategoryGroup))}
    for position, g in enumerate(seed.groups):
        group = groups.get(g.code)
        if group is None:
            group = CategoryGroup(code=g.code)
            session.add(group)
            changed += 1
        changed += assign_changed(group, name=g.name, position=position)
    session.flush()
    categories = {
        c.code: c
        for c in session.scalars(
            select(Category).options(selectinload(Category.legal_basis), selectinload(Category.keywords))
        )
    }
    for position, c in enumerate(seed.categories):
        category = categories.get(c.code)
        if category is None:
            category = Category(code=c.code)
            session.add(category)
            changed += 1
        changed += assign_changed(
            category,
            group_code=c.group,
            name=c.name,
            description=c.description,
            position=position,
            sign_working_days=c.sign_working_days,
            onsite_hours=c.onsite_hours,
            onsite_hours_in_progress=c.onsite_hours_in_progress,
            handle_working_days=c.handle_working_days,
        )
        wanted_basis = [(b.regulation, b.article, b.summary) for b in c.legal_basis]
        if [(b.regulation, b.article, b.summary) for b in category.legal_basis] != wanted_basis:
            category.legal_basis.clear()
            session.flush()
            category.legal_basis.extend(
                LegalBasis(position=i, regulation=r, article=a, summary=s)
                for i, (r, a, s) in enumerate(wanted_basis)
            )
            changed += 1
        wanted_keywords = sorted(set(c.keywords))
        if sorted(k.keyword for k in category.keywords) != wanted_keywords:
            category.keywords.clear()
            session.flush()
            category.keywords.extend(CategoryKeyword(keyword=k) for k in wanted_keywords)
            changed += 1
    session.flush()
    return changed


def list_categories(session: Session) -> list[Category]:
    return list(
        session.scalars(
            select(Category)
            .options(selectinload(Category.legal_basis), selectinload(Category.group))
            .order_by(Category.position)
        )
    )


@dataclass(frozen=True, slots=True)
class FilingCatalog:
    """What filing reads of the catalog, kept per process until the catalog changes: every (category code,
    keyword) pair for the keyword guess, and each category's row (its columns, by name) for the case."""

    keywords: tuple[tuple[str, str], ...]
    rows: Mapping[str, Mapping[str, Any]]


def filing_catalog(session: Session) -> FilingCatalog:
    """The catalog as filing reads it: built once per process and again after any change to the catalog."""
    return cached(session, CATEGORIES, _read_filing_catalog, part="keywords")


def category_keywords(session: Session) -> tuple[tuple[str, str], ...]:
    """Every (category code, keyword) pair, in the categories' order and then the keywords', so that the
    first category met wins a tie. Kept per process until the catalog changes."""
    return filing_catalog(session).keywords


def _read_filing_catalog(session: Session) -> FilingCatalog:
    pairs = session.execute(
        select(CategoryKeyword.category_code, CategoryKeyword.keyword)
        .join(Category, Category.code == CategoryKeyword.category_code)
        .order_by(Category.position, Category.code, CategoryKeyword.keyword)
    )
    rows = session.execute(select(*Category.__table__.columns)).mappings()
    return FilingCatalog(
        keywords=tuple((code, keyword) for code, keyword in pairs),
        rows=MappingProxyType({row["code"]: MappingProxyType(dict(row)) for row in rows}),
    )


def label_categories(content_dir: Path) -> None:
    """Name the category codes in Chinese for the message that refuses one (read once, at start-up, so that
    no error reads a file or the database)."""
    with (content_dir / "taxonomy.toml").open("rb") as fh:
        taxonomy = tomllib.load(fh)
    label_choices({c["code"]: c["name"] for c in taxonomy.get("categories", []) if c.get("name")})
