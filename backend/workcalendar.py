"""Working-time arithmetic on China's official calendar (holidays and make-up working days).

Time counts only on working days, whole days in Shanghai local time: one working day from Friday
10:00 is Monday 10:00 (or later, across a holiday). The calendar comes from `chinesecalendar`, which
follows the State Council's yearly announcements; for a year it does not know yet we fall back to
Monday-Friday and log a warning, so a due time is never refused, only less exact.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ONE_DAY = dt.timedelta(days=1)


@functools.lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    """Whether `day` is a working day in mainland China, make-up working days (调休) included."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        log.warning("no official calendar for %s yet; counting Monday-Friday as working days", day.year)
        return day.weekday() < 5


def calendar_known(day: dt.date) -> bool:
    """Whether the installed calendar has the official arrangement for `day`'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def add_working_time(start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The instant `amount` of working time after `start` (aware), counted in Shanghai working days."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if amount < dt.timedelta(0):
        raise ValueError("amount must not be negative")
    if not amount:
        return start
    cursor = start.astimezone(SHANGHAI)
    remaining = amount
    while True:
        next_midnight = dt.datetime.combine(cursor.date() + _ONE_DAY, dt.time(), SHANGHAI)
        if is_working_day(cursor.date()):
            available = next_midnight - cursor
            if remaining <= available:
                return (cursor + remaining).astimezone(dt.UTC)
            remaining -= available
        cursor = next_midnight


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """`days` working days after `start`: from a working day, the same local time n working days on;
    from a rest day, the end of the n-th working day after it (the clock starts when work does)."""
    return add_working_time(start, dt.timedelta(days=days))


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """`hours` of working time after `start`; hours on holidays and weekends off duty do not count."""
    return add_working_time(start, dt.timedelta(hours=hours))


def working_days_between(start: dt.date, end: dt.date) -> int:
    """How many working days lie in [start, end)."""
    count, day = 0, start
    while day < end:
        count += is_working_day(day)
        day += _ONE_DAY
    return count
