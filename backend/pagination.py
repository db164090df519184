"""One page of an ordered query, with the count of all its rows: used by every package that lists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_PAGE = 100_000  # pages past it are not read: keeps the offset within what the database accepts


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0


def paginate(session: Session, query: Select[T], page: int, per_page: int) -> Page[T]:
    """One page of an ordered query, with the count of all its rows (pages past the end are empty)."""
    page = max(page, 1)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if page > MAX_PAGE:
        return Page([], page, per_page, total)
    items = session.scalars(query.limit(per_page).offset((page - 1) * per_page))
    return Page(list(items), page, per_page, total)
