"""Crontab expressions: which are refused and why, and when one fires in a time zone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from threadline.core.cron import cron_expression, cron_trigger, last_fire

BERLIN_AT_EIGHT = cron_trigger("0 8 * * mon-fri", ZoneInfo("Europe/Berlin"))


def test_a_valid_expression_is_kept_as_written():
    assert cron_expression("0 8 * * mon-fri") == "0 8 * * mon-fri"


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("0 8 * *", "Wrong number of fields"),
        ("0 25 * * *", "higher than the maximum"),
        ("0 8 * * 1-5", "name the days of the week"),
        ("0 0 30 feb *", "it never fires"),
    ],
)
def test_an_invalid_expression_is_refused_saying_why(expression: str, why: str):
    said = re.escape(f"invalid cron expression {expression!r}: ")
    with pytest.raises(ValueError, match=f"^{said}.*{re.escape(why)}"):
        cron_expression(expression)


def test_it_fires_at_the_local_hour_in_winter_and_in_summer():
    winter = last_fire(BERLIN_AT_EIGHT, datetime(2026, 3, 2, 0, 0), datetime(2026, 3, 2, 12, 0))
    summer = last_fire(BERLIN_AT_EIGHT, datetime(2026, 6, 1, 0, 0), datetime(2026, 6, 1, 12, 0))

    assert (winter, summer) == (datetime(2026, 3, 2, 7, 0), datetime(2026, 6, 1, 6, 0))


def test_the_window_excludes_its_start_includes_its_end_and_answers_the_latest():
    at_seven = datetime(2026, 3, 2, 7, 0)

    assert last_fire(BERLIN_AT_EIGHT, at_seven, datetime(2026, 3, 2, 8, 0)) is None
    assert last_fire(BERLIN_AT_EIGHT, datetime(2026, 3, 2, 6, 59), at_seven) == at_seven
    assert last_fire(BERLIN_AT_EIGHT, datetime(2026, 3, 1), datetime(2026, 3, 4)) == datetime(
        2026, 3, 3, 7, 0
    )
