"""What a statistics call, an export or a report is about: a date range, the campaign's phases, a town or squad,
a category group or category, a source. Parsed once from a query string, shared by every reader."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.db import RowId
from backend.errors import ValidationFailed, field_errors
from backend.workcalendar import SHANGHAI


@dataclass(frozen=True)
class Phase:
    code: str
    label: str
    months: tuple[int, ...]


# The campaign's three phases (the notice): each year's April–June, July–October and November–December.
PHASES: tuple[Phase, ...] = (
    Phase("overhaul", "全面整治", (4, 5, 6)),
    Phase("enforcement", "加强执法", (7, 8, 9, 10)),
    Phase("review", "总结提升", (11, 12)),
)
PHASE_BY_CODE = {phase.code: phase for phase in PHASES}
PHASE_OF_MONTH = {month: phase for phase in PHASES for month in phase.months}
OUTSIDE_PHASES = Phase("outside", "阶段外", (1, 2, 3))  # January–March, before each year's campaign


def phase_of(day: dt.date) -> Phase:
    return PHASE_OF_MONTH.get(day.month, OUTSIDE_PHASES)


def phase_range(year: int, code: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a phase in `year`."""
    months = PHASE_BY_CODE[code].months
    last_month_end = next_month(dt.date(year, months[-1], 1)) - dt.timedelta(days=1)
    return dt.date(year, months[0], 1), last_month_end


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the year ("y"), the month ("m") or the Monday of the week ("w") holding `day`; `day`
    itself for "d"."""
    if grain == "y":
        return day.replace(month=1, day=1)
    if grain == "m":
        return day.replace(day=1)
    if grain == "w":
        return day - dt.timedelta(days=day.weekday())
    return day


def period_after(first: dt.date, grain: str) -> dt.date:
    """The first day of the period after the one beginning on `first`."""
    if grain == "y":
        return first.replace(year=first.year + 1, month=1, day=1)
    if grain == "m":
        return next_month(first)
    return first + dt.timedelta(days=7 if grain == "w" else 1)


def _month_firsts(first: dt.date, after: dt.date) -> list[dt.date]:
    days, day = [], first.replace(day=1)
    while day < after:
        days.append(day)
        day = next_month(day)
    return days


def local_day(instant: dt.datetime) -> dt.date:
    return instant.astimezone(SHANGHAI).date()


def day_start(day: dt.date) -> dt.datetime:
    """The UTC instant a Shanghai day begins."""
    return dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.UTC)


@dataclass(frozen=True)
class StatFilter:
    """A selection of cases by the day they were reported (Shanghai time, both ends included) and their keys.

    `squad_id` selects the cases of the squad's town (each town has one squad); `phases` keeps only the days
    in those phases of every year in the range."""

    start: dt.date | None = None
    end: dt.date | None = None
    phases: tuple[str, ...] = ()
    town_id: int | None = None
    squad_id: int | None = None
    group: str | None = None
    category: str | None = None
    source: str | None = None

    def with_range(self, start: dt.date | None, end: dt.date | None) -> StatFilter:
        return replace(self, start=start, end=end)

    def bounded(self, first: dt.date, last: dt.date) -> StatFilter:
        """This filter with open ends closed at `first` and `last`."""
        return replace(self, start=self.start or first, end=self.end or last)

    def keeps_day(self, day: dt.date) -> bool:
        return not self.phases or phase_of(day).code in self.phases

    def pieces(self, grains: tuple[str, ...] = ("y", "m")) -> dict[str, list[dt.date]]:
        """The range cut into the largest whole periods it holds, coarsest grain first ("y" years, "m" months,
        "w" weeks from Monday; each period by its first day), and the loose days ("d") left at the edges,
        less the days outside the chosen phases. A period is whole when every one of its days is in the range
        and kept. Needs both ends."""
        assert self.start is not None and self.end is not None
        found: dict[str, list[dt.date]] = {grain: [] for grain in (*grains, "d")}
        day = self.start
        while day <= self.end:
            for grain in grains:
                after = period_after(day, grain)
                if period_start(day, grain) == day and self._keeps_all(day, after):
                    found[grain].append(day)
                    day = after
                    break
            else:
                if self.keeps_day(day):
                    found["d"].append(day)
                day += dt.timedelta(days=1)
        return found

    def _keeps_all(self, first: dt.date, after: dt.date) -> bool:
        assert self.end is not None
        if after - dt.timedelta(days=1) > self.end:
            return False
        # phases are whole months: a period is kept whole when every month it touches is
        return not self.phases or all(self.keeps_day(day) for day in _month_firsts(first, after))

    def spans(self) -> list[tuple[dt.date, dt.date]]:
        """The range as runs of kept days: itself without phases, else each chosen phase of each year in it,
        clipped to the range. Needs both ends."""
        assert self.start is not None and self.end is not None
        if not self.phases:
            return [(self.start, self.end)]
        runs = []
        for year in range(self.start.year, self.end.year + 1):
            for code in sorted(self.phases, key=lambda c: PHASE_BY_CODE[c].months):
                first, last = phase_range(year, code)
                first, last = max(first, self.start), min(last, self.end)
                if first <= last:
                    runs.append((first, last))
        return runs

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters, so that a view can be shared by its URL."""
        params = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "phase": ",".join(self.phases),
            "town": str(self.town_id or ""),
            "squad": str(self.squad_id or ""),
            "group": self.group or "",
            "category": self.category or "",
            "source": self.source or "",
        }
        return {key: value for key, value in params.items() if value}

    def instants(self) -> Iterator[dt.datetime | None]:
        """The UTC instants the range begins and ends (exclusive); None for an open end."""
        yield day_start(self.start) if self.start else None
        yield day_start(self.end + dt.timedelta(days=1)) if self.end else None


PhaseCode = Literal["overhaul", "enforcement", "review"]


class StatQuery(BaseModel):
    """The query string of every statistics page, export and endpoint (parsed with the one error shape)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    start: dt.date | None = Field(None, description="第一天（含），如 2026-04-01")
    end: dt.date | None = Field(None, description="最后一天（含）")
    year: Annotated[int, Field(ge=2000, le=2100)] | None = Field(
        None, description="与 phase 合用：某年的阶段"
    )
    phase: str = Field(
        "", description="阶段：overhaul 全面整治, enforcement 加强执法, review 总结提升；可多个，逗号分隔"
    )
    town: RowId | None = None
    squad: RowId | None = None
    group: Annotated[str, Field(max_length=48)] = ""
    category: Annotated[str, Field(max_length=48)] = ""
    source: Annotated[str, Field(max_length=24)] = ""

    @model_validator(mode="after")
    def _check(self) -> StatQuery:
        for code in self.phase_codes():
            if code not in PHASE_BY_CODE:
                raise ValueError(f"未知的阶段：{code}")
        if self.start and self.end and self.start > self.end:
            raise ValueError("开始日期不能晚于结束日期")
        if self.year is not None and len(self.phase_codes()) != 1:
            raise ValueError("按年份查看阶段时请选择一个阶段")
        return self

    def phase_codes(self) -> tuple[str, ...]:
        return tuple(code for code in (part.strip() for part in self.phase.split(",")) if code)

    def to_filter(self) -> StatFilter:
        start, end = self.start, self.end
        phases = self.phase_codes()
        if self.year is not None:
            start, end = phase_range(self.year, phases[0])
        return StatFilter(
            start=start,
            end=end,
            phases=phases,
            town_id=self.town,
            squad_id=self.squad,
            group=self.group or None,
            category=self.category or None,
            source=self.source or None,
        )


def parse_filter(args: Mapping[str, str]) -> StatFilter:
    """A StatFilter from a query string; ValidationFailed (400, in Chinese) for a bad one."""
    try:
        return StatQuery.model_validate(dict(args)).to_filter()
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(
            errors[0].message, description="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None
