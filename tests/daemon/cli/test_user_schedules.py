"""``threadline users schedule``: an agent's time zone, calendar and digest, shown, changed,
put back to the desk's, and refused with the reason; on each database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline
from threadline.core.models import AgentSettings

GRACE = "grace@example.com"
DEFAULTS = (
    f"{GRACE}: time zone: UTC (default); calendar: the ticket's (default); "
    "digest: 0 8 * * mon-fri (default)\n"
)


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "threadline.toml"
    path.write_text('[[calendars]]\nname = "berlin"\ntime_zone = "Europe/Berlin"\n')
    return str(path)


@pytest.fixture
def schedule(threadline: Threadline, config: str) -> Threadline:
    """``threadline users schedule GRACE ...`` with one calendar configured, Grace added."""
    assert threadline("users", "add", "Grace Hopper", GRACE).exit_code == 0
    return lambda *args: threadline("users", "schedule", GRACE, *args, THREADLINE_CONFIG=config)


def stored(sessions: sessionmaker[Session]) -> list[tuple[str | None, str | None, str | None]]:
    with sessions() as session:
        found = session.execute(
            select(AgentSettings.time_zone, AgentSettings.calendar, AgentSettings.digest)
        )
        return [tuple(row) for row in found]


def test_without_options_it_shows_the_desks_defaults(schedule: Threadline):
    shown = schedule()

    assert (shown.exit_code, shown.output) == (0, DEFAULTS)


def test_each_setting_is_changed_and_put_back_to_the_desks(
    schedule: Threadline, sessions: sessionmaker[Session]
):
    changed = schedule(
        "--time-zone", "Europe/Berlin", "--calendar", "berlin", "--digest", "30 7 * * mon-fri"
    )

    assert (changed.exit_code, changed.output) == (
        0,
        f"{GRACE}: time zone: Europe/Berlin; calendar: berlin; digest: 30 7 * * mon-fri\n",
    )
    assert stored(sessions) == [("Europe/Berlin", "berlin", "30 7 * * mon-fri")]
    assert schedule("--digest", "off").output.endswith("; digest: off\n")
    assert stored(sessions) == [("Europe/Berlin", "berlin", "off")]

    reset = schedule("--time-zone", "default", "--calendar", "default", "--digest", "default")

    assert reset.output == DEFAULTS
    assert stored(sessions) == [(None, None, None)]


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        (
            "--time-zone",
            "Mars/Olympus",
            "time zone: unknown time zone 'Mars/Olympus'; use an IANA name like Europe/Berlin",
        ),
        (
            "--calendar",
            "paris",
            "calendar: no [[calendars]] is named 'paris' (configured: berlin); add it to the "
            "configuration first",
        ),
        (
            "--digest",
            "0 8 * * 1-5",
            "digest: invalid cron expression '0 8 * * 1-5': name the days of the week (mon, "
            "tue, ..., sun); APScheduler 3 counts 0 as Monday, cron as Sunday",
        ),
        ("--digest", "0 8 * *", "digest: invalid cron expression '0 8 * *': Wrong number"),
    ],
)
def test_a_value_that_cannot_work_is_refused_saying_why_and_nothing_changes(
    schedule: Threadline, sessions: sessionmaker[Session], option: str, value: str, said: str
):
    refused = schedule("--time-zone", "Europe/Berlin", option, value)

    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: {said}")
    assert stored(sessions) == []


def test_an_unknown_user_is_named(threadline: Threadline):
    refused = threadline("users", "schedule", "nobody@example.com", "--digest", "off")

    assert refused.exit_code == 1
    assert "no user with email nobody@example.com" in refused.stderr
