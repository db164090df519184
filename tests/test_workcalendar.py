"""Working-time arithmetic across the 2025 and 2026 Spring Festival and National Day periods."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.workcalendar import (
    SHANGHAI,
    add_working_days,
    add_working_hours,
    add_working_time,
    is_working_day,
    working_days_between,
)


def cst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# Facts of the State Council's announcements, not of the package under test.
@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2025, 1, 26), True),  # Sunday, make-up working day before Spring Festival
        (dt.date(2025, 1, 28), False),  # 除夕
        (dt.date(2025, 2, 4), False),
        (dt.date(2025, 2, 8), True),  # Saturday, make-up working day
        (dt.date(2025, 9, 28), True),  # Sunday, make-up for National Day
        (dt.date(2025, 10, 8), False),
        (dt.date(2025, 10, 11), True),  # Saturday, make-up
        (dt.date(2026, 2, 14), True),  # Saturday, make-up before Spring Festival
        (dt.date(2026, 2, 15), False),
        (dt.date(2026, 2, 23), False),  # Monday, last day off
        (dt.date(2026, 2, 28), True),  # Saturday, make-up
        (dt.date(2026, 9, 20), True),  # Sunday, make-up for National Day
        (dt.date(2026, 10, 7), False),
        (dt.date(2026, 10, 10), True),  # Saturday, make-up
        (dt.date(2026, 11, 28), False),  # an ordinary Saturday
        (dt.date(2026, 11, 26), True),  # an ordinary Thursday
    ],
)
def test_official_calendar(day: dt.date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Friday before the 2025 Spring Festival: the next working day is the make-up Sunday.
        (cst(2025, 1, 24, 10), 1, cst(2025, 1, 26, 10)),
        # Monday 27 Jan 2025: the holiday 28 Jan-4 Feb does not count.
        (cst(2025, 1, 27, 10), 1, cst(2025, 2, 5, 10)),
        (cst(2025, 2, 5, 10), 3, cst(2025, 2, 8, 10)),  # lands on the make-up Saturday
        (cst(2025, 9, 30, 16), 1, cst(2025, 10, 9, 16)),
        (cst(2025, 9, 30, 16), 2, cst(2025, 10, 10, 16)),
        (cst(2025, 9, 30, 16), 3, cst(2025, 10, 11, 16)),
        (cst(2026, 2, 13, 9), 1, cst(2026, 2, 14, 9)),  # Friday -> make-up Saturday
        (cst(2026, 2, 13, 9), 2, cst(2026, 2, 24, 9)),  # then across the nine days off
        (cst(2026, 2, 27, 9), 1, cst(2026, 2, 28, 9)),
        (cst(2026, 9, 30, 15), 1, cst(2026, 10, 8, 15)),
        (cst(2026, 9, 30, 15), 3, cst(2026, 10, 10, 15)),
        (cst(2026, 9, 30, 15), 4, cst(2026, 10, 12, 15)),
        # Saturday: the clock starts on Monday, so one working day ends at Monday's end.
        (cst(2026, 11, 28, 10), 1, cst(2026, 12, 1, 0)),
    ],
)
def test_add_working_days(start: dt.datetime, days: int, due: dt.datetime) -> None:
    assert add_working_days(start, days) == due


def test_add_working_hours_across_national_day() -> None:
    assert add_working_hours(cst(2026, 9, 30, 20), 8) == cst(2026, 10, 8, 4)
    assert add_working_hours(cst(2026, 10, 3, 10), 2) == cst(2026, 10, 8, 2)
    assert add_working_hours(cst(2025, 1, 27, 23), 2) == cst(2025, 2, 5, 1)


def test_result_is_utc_and_input_zone_does_not_matter() -> None:
    start_utc = cst(2026, 2, 13, 9).astimezone(dt.UTC)
    due = add_working_days(start_utc, 2)
    assert due.tzinfo == dt.UTC
    assert due == cst(2026, 2, 24, 9)


def test_zero_and_invalid_amounts() -> None:
    start = cst(2026, 10, 3, 10)
    assert add_working_time(start, dt.timedelta(0)) == start
    with pytest.raises(ValueError):
        add_working_hours(start, -1)
    with pytest.raises(ValueError):
        add_working_days(dt.datetime(2026, 10, 3, 10), 1)


def test_year_without_official_calendar_falls_back_to_weekdays(caplog: pytest.LogCaptureFixture) -> None:
    # 2099 will not be announced for a long time: Monday-Friday are working days meanwhile.
    assert add_working_days(cst(2099, 1, 2, 10), 1) == cst(2099, 1, 5, 10)  # Friday -> Monday
    assert "no official calendar for 2099" in caplog.text


def test_working_days_between() -> None:
    assert working_days_between(dt.date(2026, 10, 1), dt.date(2026, 10, 12)) == 3  # 8, 9 and the make-up 10th
    assert working_days_between(dt.date(2026, 2, 14), dt.date(2026, 3, 1)) == 6
