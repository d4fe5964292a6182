"""Settings sections of the scheduled jobs: the desk's calendars, SLA targets, auto-close,
digests and retention."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator

from threadline.core.business_time import MIDNIGHT, Calendar
from threadline.core.cron import cron_expression
from threadline.core.settings import Section

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def time_zone(value: str) -> str:
    """An IANA name (``Europe/Berlin``), checked here so a typo stops the start."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Berlin"
        ) from None
    return value


TimeZone = Annotated[str, AfterValidator(time_zone)]


class CalendarSettings(Section):
    """``[[calendars]]``: the hours a desk works; SLA targets count only these."""

    name: str = Field(min_length=1)
    time_zone: TimeZone = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    """Weekday (``mon`` ... ``sun``) -> its open spans, ``"09:00-17:00"``, in order; a day not
    named is closed; ``24:00`` ends a span at midnight. No hours at all: open around the clock."""
    holidays: list[date] = Field(default_factory=list)
    """Closed all day, whatever ``hours`` say."""

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            _spans(day, spans)
        if value and not any(value.values()):
            raise ValueError("no day has an open span: a target would never fall due")
        return value

    def calendar(self) -> Calendar:
        hours = {WEEKDAYS.index(day): _spans(day, spans) for day, spans in self.hours.items()}
        return Calendar(ZoneInfo(self.time_zone), hours or None, frozenset(self.holidays))


def calendars(configured: list[CalendarSettings]) -> dict[str, Calendar]:
    """By name; a name not among them counts around the clock (``Calendar()``)."""
    return {settings.name: settings.calendar() for settings in configured}


def _spans(day: str, spans: list[str]) -> list[tuple[time, time]]:
    parsed: list[tuple[time, time]] = []
    for span in spans:
        found = _SPAN.match(span.strip())
        if found is None:
            raise ValueError(f"{day}: {span!r} is not a span like 09:00-17:00")
        start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
        if (end_h, end_m) == (24, 0):
            end_h = 0
        if start_h > 23 or end_h > 23 or start_m > 59 or end_m > 59:
            raise ValueError(f"{day}: {span!r} is not a time of day")
        start, end = time(start_h, start_m), time(end_h, end_m)
        previous_end = parsed[-1][1] if parsed else None
        if (
            (end != MIDNIGHT and end <= start)
            or previous_end in (MIDNIGHT,)
            or (previous_end is not None and start < previous_end)
        ):
            raise ValueError(f"{day}: {span!r} must end after it starts, and after the span before")
        parsed.append((start, end))
    return parsed


class SlaTarget(Section):
    """``[[sla.targets]]``: response and resolution times, in business minutes of a calendar.
    The first target whose department and priority match a ticket is its."""

    department: str = ""
    """A department's name; empty: any (tickets without a department too)."""
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    """Only tickets of this priority; unset: any."""
    calendar: str = ""
    """A ``[[calendars]]`` name; empty: around the clock."""
    first_response: float = Field(default=0, ge=0)
    """Minutes from a ticket's opening to the first public reply of an agent; 0: none."""
    next_response: float = Field(default=0, ge=0)
    """Minutes from a client's message (after an agent answered) to the next public reply."""
    resolution: float = Field(default=0, ge=0)
    """Minutes from opening to closing, paused while the ticket waits for the client."""


class SlaSettings(Section):
    targets: list[SlaTarget] = Field(default_factory=list)
    """None: no SLA clocks run."""
    warn_minutes: float = Field(default=15, ge=0)
    """The assignees are warned this long (in real minutes) before a due time; 0: no warning."""
    department_after_minutes: float = Field(default=30, ge=0)
    """After a breach, the department's agents are told too, this much later; 0: at once."""
    escalate_on_breach: bool = False
    """A breach moves the ticket to its ``[[assignment.rules]]`` second line (``l2``)."""


class AutoCloseSettings(Section):
    """Tickets that wait for the client in vain: told first, then closed."""

    enabled: bool = False
    notice_days: float = Field(default=7.0, gt=0)
    """Days without a client's message after an agent's reply until the client is told."""
    close_days: float = Field(default=3.0, gt=0)
    """Days after the notice until the ticket closes, unless the client answers."""
    message: str = (
        "We have not heard from you for a while, so we will close this ticket in a few days. "
        "If you still need help, just reply to this message."
    )
    """What the client is told, on the channel they last wrote from."""


class DigestSettings(Section):
    """A daily summary per agent of their open, waiting and overdue tickets."""

    enabled: bool = True
    cron: str = "0 8 * * mon-fri"
    """When, in the agent's time zone, unless they chose their own (``threadline users
    schedule``)."""
    time_zone: TimeZone = "UTC"
    """For agents who chose none."""

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str) -> str:
        return cron_expression(value)


class RetentionSettings(Section):
    """What is removed, in batches of ``batch_size`` rows, by the ``retention`` job."""

    raw_inbound_days: float = Field(default=30.0, gt=0)
    """The raw bytes of processed inbound items (the messages stay)."""
    read_notifications_days: float = Field(default=90.0, gt=0)
    closed_tickets_years: float = Field(default=0.0, ge=0)
    """Closed tickets with their messages and attachments; 0 keeps them for ever."""
    batch_size: int = Field(default=1000, ge=1, le=100_000)
