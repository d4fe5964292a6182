"""Business-time arithmetic across a weekend, a holiday and the changes of daylight saving time;
no database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from threadline.core.business_time import Calendar

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {day: [(time(9), time(12)), (time(13), time(17))] for day in range(5)}
"""Monday to Friday, 9 to 5 with a lunch break, Berlin time."""
DESK = Calendar(BERLIN, OFFICE, frozenset({date(2026, 12, 24), date(2026, 12, 25)}))


def utc(*fields: int) -> datetime:
    """Naive UTC, as the schema holds it."""
    return datetime(*fields)


def test_a_target_runs_over_the_weekend_only_in_working_hours():
    friday_1630 = utc(2026, 3, 6, 15, 30)  # 16:30 in Berlin (UTC+1)
    assert DESK.add(friday_1630, 60) == utc(2026, 3, 9, 8, 30)  # Monday 09:30 Berlin
    assert DESK.between(friday_1630, utc(2026, 3, 9, 8, 30)) == timedelta(minutes=60)


def test_the_lunch_break_and_the_night_do_not_count():
    monday_1130 = utc(2026, 3, 9, 10, 30)
    assert DESK.add(monday_1130, 60) == utc(2026, 3, 9, 12, 30)  # 13:30 after the break
    assert DESK.add(monday_1130, 480) == utc(2026, 3, 10, 12, 30)  # Tuesday 13:30
    assert not DESK.is_open(utc(2026, 3, 9, 11, 30))  # 12:30 Berlin
    assert DESK.is_open(utc(2026, 3, 9, 12, 30))


def test_holidays_are_skipped():
    wednesday_1600 = utc(2026, 12, 23, 15, 0)  # 16:00 Berlin; the 24th and 25th are holidays
    assert DESK.add(wednesday_1600, 120) == utc(2026, 12, 28, 9, 0)  # Monday 10:00


def test_hours_follow_the_wall_clock_across_the_change_to_summer_time():
    # Friday 27 March 2026, 16:30 CET (UTC+1); the clocks go forward on Sunday the 29th.
    friday = utc(2026, 3, 27, 15, 30)
    # Monday 09:30 CEST is 07:30 UTC: an hour earlier in UTC than the week before.
    assert DESK.add(friday, 60) == utc(2026, 3, 30, 7, 30)


def test_a_night_shift_spanning_the_change_has_an_hour_less():
    nights = Calendar(BERLIN, {6: [(time(0), time(6))]})  # Sundays, 00:00 to 06:00
    sunday = utc(2026, 3, 28, 23, 0)  # 00:00 CET on the night of the change
    # The wall clock shows six hours, but 02:00 to 03:00 never happens: five are worked.
    assert nights.between(sunday, utc(2026, 3, 29, 12, 0)) == timedelta(hours=5)
    assert nights.add(sunday, 5 * 60) == utc(2026, 3, 29, 4, 0)  # 06:00 CEST


def test_an_end_of_midnight_is_the_days_end_and_no_hours_is_around_the_clock():
    evenings = Calendar(BERLIN, {0: [(time(22), time(0))]})
    monday_2230 = utc(2026, 3, 9, 21, 30)
    assert evenings.add(monday_2230, 90) == utc(2026, 3, 9, 23, 0)  # midnight in Berlin
    assert evenings.add(monday_2230, 91) == utc(2026, 3, 16, 21, 1)  # next Monday 22:01
    always = Calendar()
    assert always.add(utc(2026, 3, 7, 12, 0), 90) == utc(2026, 3, 7, 13, 30)
    assert always.is_open(utc(2026, 3, 8, 3, 0))


def test_a_calendar_that_never_opens_says_so():
    with pytest.raises(ValueError, match="not open for 60 minutes"):
        Calendar(BERLIN, {}).add(utc(2026, 3, 9, 9, 0), 60)
