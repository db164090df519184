"""The summary tables the bureau's statistics read: counts and sums of the cases reported in a day or a month.

A figure over a date range adds the year rows of the whole years inside it, the month rows of the whole months
left and the day rows of the days at its edges, so a statistics call reads tens of thousands of rows whatever the number of cases. The rows are
recomputed from the cases by `backend.stats.rollup` whenever cases change; they are never edited by hand.
Year rows serve long ranges, week rows the weekly trend, the same way.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime

# How long a case took to be signed, visited, acted on and resolved, counted in buckets of hours: a bucket
# holds the durations up to its edge (and above the edge before it). Percentiles are read to the bucket.
DURATION_EDGES_HOURS: tuple[int, ...] = (1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 360, 720)
BUCKETS = len(DURATION_EDGES_HOURS) + 1  # the last holds everything longer than 30 days
DURATIONS = ("sign", "onsite", "action", "resolve")

# The sums of a rollup row, each the number of cases of its key that …
COUNTS: tuple[str, ...] = (
    "cases",  # were reported
    "signed",  # were signed for
    "sign_due",  # had to be signed for by now (signed, or their deadline passed unsigned)
    "sign_on_time",  # were signed for by their deadline
    "onsite",  # had someone on site
    "onsite_due",  # had to have someone on site by now (第七条)
    "onsite_on_time",  # had someone on site in time
    "acted",  # had a handling action (责令整改, 立案, 处罚, 拆除 …)
    "resolved",  # were resolved (办结), also when resolved again after 不满意
    "resolve_due",  # had to be resolved by now
    "resolve_on_time",  # were resolved by their deadline
    "rated",  # were rated by the reporter
    "satisfied",  # were rated 满意 or 基本满意
    "unsatisfied",  # were rated 不满意
    "rehandled",  # went back for re-handling after 不满意
    "extended",  # had an extension (延期) approved: the number of approvals
    "returned",  # were returned by a squad (退单): the number of returns
    "redispatched",  # were dispatched again after a return (改派): the number of re-dispatches
    "repeat_estate",  # followed another case about the same estate within 90 days
    "repeat_flat",  # followed another case about the same flat within 90 days
)
HISTOGRAM: tuple[str, ...] = tuple(f"{name}_h{i}" for name in DURATIONS for i in range(BUCKETS))

DAY, WEEK, MONTH, YEAR = "d", "w", "m", "y"  # the grains of a rollup row's period (a week begins on Monday)
# The grains summed from finer rows, each from the one named beside it, in the order they are summed.
SUMMED_GRAINS = ((WEEK, DAY), (MONTH, DAY), (YEAR, MONTH))


def _sums() -> list[Column[int]]:
    return [Column(name, Integer, nullable=False, default=0) for name in COUNTS + HISTOGRAM]


# One row per period and (town, category, source, current status) of the cases reported in it. The key is the
# primary key, so InnoDB keeps a period's rows together and a range of periods is read in one sweep. Absent
# keys are stored as 0 and "" (a primary key has no NULLs).
case_rollup = Table(
    "stat_case_rollup",
    Base.metadata,
    Column("grain", String(1), primary_key=True),
    Column("period", Date, primary_key=True),
    Column("town_id", Integer, primary_key=True),
    Column("category_code", String(48), primary_key=True),
    Column("source", String(24), primary_key=True),
    Column("status", String(16), primary_key=True),
    *_sums(),
)

# One row per period and (estate, town, category group): what the hot spots and the watch list read.
estate_rollup = Table(
    "stat_estate_rollup",
    Base.metadata,
    Column("grain", String(1), primary_key=True),
    Column("period", Date, primary_key=True),
    Column("estate_id", Integer, primary_key=True),
    Column("group_code", String(48), primary_key=True),
    Column(
        "town_id", Integer, primary_key=True
    ),  # the case's town (a case may be another town's than its estate's)
    Column("cases", Integer, nullable=False, default=0),
)


class RollupState(Base):
    """Where the refresh of the summary tables has got to; its row lock keeps two refreshes from interleaving."""

    __tablename__ = "stat_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    # cases changed at or after this instant (less a margin for transactions still open) are summed again
    changed_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    days_refreshed: Mapped[int] = mapped_column(Integer, default=0)
