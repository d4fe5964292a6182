"""Settings sections that the core rules read."""

from __future__ import annotations

import os
import re
from datetime import date, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from threadline.core.business_time import MIDNIGHT, Calendar
from threadline.core.config_types import Secret
from threadline.core.cron import cron_expression
from threadline.core.notification_types import TYPES

DEFAULT_DATABASE_URL = "sqlite:///var/threadline.db"
MAX_PARSE_WORKERS = 64
AUTO_PARSE_WORKERS = 2
"""Enough to keep up with one processor, which spends about as long storing an item as a worker
parsing it."""

Strategy = Literal["none", "round_robin", "least_loaded"]

_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


class Section(BaseModel):
    """Base of every section: unknown keys are mistakes, reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: Annotated[str, Secret()] = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; use sqlite:///PATH or postgresql://USER@HOST/DB"
            ) from None
        driver = _DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unsupported database {url.drivername!r}; use sqlite:///PATH or "
                "postgresql://USER@HOST/DB"
            )
        return url.set(drivername=driver).render_as_string(hide_password=False)


class IdentitySettings(Section):
    default_region: str = Field(default="", pattern=r"^([A-Z]{2})?$")
    """ISO 3166 region for phone numbers written without a country code; empty rejects them."""
    unknown_sender: Literal["create", "park"] = "create"
    """``create`` a client for a sender no external id names; ``park`` their messages as failed
    for an operator to look at."""
    unverified_agent: Literal["client", "park"] = "client"
    """Mail from an agent's address without a valid reply token (a From: is easily forged):
    store it as a ``client`` message on a ticket of its own, or ``park`` it for an operator."""


class IntakeSettings(Section):
    batch_size: int = Field(default=200, ge=1, le=5000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    """Tries of an item that keeps failing before it is parked ``failed``."""
    retry_initial: float = Field(default=30.0, gt=0)
    retry_maximum: float = Field(default=3600.0, gt=0)
    lease: float = Field(default=300.0, gt=0)
    """Seconds a claimed item stays with its worker; a crashed worker's items return after it."""
    sweep_interval: int = Field(default=5, ge=1)
    """Whole seconds between the scheduler's sweeps for work that no wake-up announced (a
    retry that fell due)."""
    parse_workers: int | Literal["auto"] = "auto"
    """Processes that parse the next batch while the processor handles the current one
    (``daemon/parse_workers.py``). ``auto``: one per CPU this process may use beyond the one the
    processor keeps busy, up to :data:`AUTO_PARSE_WORKERS` (on 2 CPUs, one worker handled
    mail 7 % faster than two, which took turns with the processor); 0 parses in the processor
    itself."""

    parse_timeout: float = Field(default=60.0, gt=0)
    """Seconds a parse worker may spend on its share of a batch (normally milliseconds): one
    that runs over is ended, and its items are parsed again one at a time, so only a mail that
    keeps a parser busy that long fails (retried, then parked). Items parsed in the processor
    itself (``parse_workers = 0``, items over 1 MiB) have no such bound."""

    @field_validator("parse_workers", mode="before")
    @classmethod
    def _count_or_auto(cls, value: object) -> object:
        """One message for a bad value, rather than one per member of the union; a count may
        come from the environment, as text."""
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value == "auto" or (type(value) is int and 0 <= value <= MAX_PARSE_WORKERS):
            return value
        raise ValueError(f'a number of processes from 0 to {MAX_PARSE_WORKERS}, or "auto"')

    @property
    def parse_worker_count(self) -> int:
        if self.parse_workers != "auto":
            return self.parse_workers
        cpus = len(os.sched_getaffinity(0))
        return min(cpus - 1, AUTO_PARSE_WORKERS)


class ThreadingSettings(Section):
    token_secret: Annotated[str, Secret()] = ""
    """HMAC key of reply tokens. Empty: a random key is made once and kept in the database."""
    reopen_window_days: float = Field(default=14.0, ge=0)
    """A reply to a ticket closed less than this long ago reopens it; later, a new ticket."""


class TicketSettings(Section):
    acknowledge_new_tickets: bool = False
    """Send the client an automatic acknowledgement when their message opens a ticket."""
    sender_rate_limit: int = Field(default=20, ge=1)
    """Messages per sender per hour that may trigger anything outbound (storm protection)."""


class RouteRule(Section):
    match: str = Field(min_length=1)
    """A receiving address, mailbox, chat channel or number; ``*`` wildcards allowed."""
    department: str = ""
    """Empty: the default department."""
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    """The least priority a ticket opened here gets (a sender's mark may raise it)."""


class RoutingSettings(Section):
    rules: list[RouteRule] = Field(default_factory=list)
    """First match wins."""
    default_department: str = ""
    assignment: Strategy = "none"


class AssignmentRule(Section):
    """Who takes a client's tickets: a first line (L1) when a ticket opens, a second line (L2)
    when it is escalated. Each of ``l1`` and ``l2`` is an agent's email or a department's
    name (its agents then by the department's strategy)."""

    client: str = ""
    """A pattern on the client's external ids, ``TYPE:VALUE`` with ``*`` wildcards:
    ``email:*@bigcorp.example``, ``whatsapp:+49*``."""
    data: dict[str, str] = Field(default_factory=dict)
    """Client data fields that must all have these values: ``{ plan = "enterprise" }``."""
    l1: str = ""
    l2: str = ""
    active: bool = True

    @model_validator(mode="after")
    def _matches_something(self) -> AssignmentRule:
        if not self.client and not self.data:
            raise ValueError("an assignment rule needs client or data to match clients by")
        if self.client and ":" not in self.client:
            raise ValueError("client is TYPE:PATTERN, like email:*@bigcorp.example")
        return self


class AssignmentSettings(Section):
    rules: list[AssignmentRule] = Field(default_factory=list)
    """Tried in order when a ticket opens, before ``[routing]``; the first active rule whose
    client matches decides."""
    strategies: dict[str, Strategy] = Field(default_factory=dict)
    """A department's own strategy, by its name, over ``routing.assignment``."""
    reassign_on_deactivate: bool = True
    """A deactivated agent's open tickets go to others by their department's strategy;
    false: they are left unassigned (each with a note saying so)."""


class AttachmentSettings(Section):
    """What is held back of the files a message brings (``core/attachment_policy.py``)."""

    max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    blocked_extensions: list[str] = Field(
        default_factory=lambda: [
            ".exe",
            ".com",
            ".scr",
            ".pif",
            ".bat",
            ".cmd",
            ".msi",
            ".dll",
            ".cpl",
            ".js",
            ".jse",
            ".vbs",
            ".vbe",
            ".wsf",
            ".hta",
            ".jar",
            ".ps1",
            ".lnk",
            ".reg",
        ]
    )
    """Lower-case, with the dot; the last extension of a name counts."""
    blocked_types: list[str] = Field(
        default_factory=lambda: ["application/x-msdownload", "application/x-executable"]
    )
    """Types the content is sniffed as, whatever the file is called: Windows and ELF
    executables."""

    @field_validator("blocked_extensions")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        return [f".{ext.strip().lower().lstrip('.')}" for ext in value if ext.strip(" .")]


class DispatchSettings(Section):
    batch_size: int = Field(default=50, ge=1, le=1000)
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_initial: float = Field(default=30.0, gt=0)
    retry_maximum: float = Field(default=3600.0, gt=0)
    lease: float = Field(default=120.0, gt=0)
    sweep_interval: int = Field(default=5, ge=1)
    """Whole seconds between the scheduler's sweeps for work that no wake-up announced (a
    retry that fell due)."""


class NotificationSettings(Section):
    channel: str = "email"
    """The channel that carries agents' notifications, unless an agent chose another: one
    whose descriptor says it can (``threadline check-config`` names the ones that can)."""
    deliver: list[str] = Field(default_factory=lambda: list(TYPES))
    """The types delivered to agents unless an agent chose otherwise (``threadline users
    notify EMAIL --on/--off TYPE``); a row in ``notifications`` is written for every type."""
    coalesce_seconds: int = Field(default=120, ge=0, le=3600)
    """Client messages on one ticket within one such window (counted from the Unix epoch) go
    to each agent in one delivery listing them all, at the window's end; 0 delivers each at
    once. A row in ``notifications`` is still written per message."""

    @field_validator("deliver")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(TYPES))
        if unknown:
            raise ValueError(f"unknown types {', '.join(unknown)}; use some of {', '.join(TYPES)}")
        return value


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


class CalendarSettings(Section):
    """``[[calendars]]``: the hours a desk works; SLA targets count only these."""

    name: str = Field(min_length=1)
    time_zone: str = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    """Weekday (``mon`` ... ``sun``) -> its open spans, ``"09:00-17:00"``, in order; a day not
    named is closed; ``24:00`` ends a span at midnight. No hours at all: open around the clock."""
    holidays: list[date] = Field(default_factory=list)
    """Closed all day, whatever ``hours`` say."""

    @field_validator("time_zone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        return time_zone(value)

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            _spans(day, spans)
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
    time_zone: str = "UTC"
    """For agents who chose none."""

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str) -> str:
        return cron_expression(value)

    @field_validator("time_zone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        return time_zone(value)


class RetentionSettings(Section):
    """What is removed, in batches of ``batch_size`` rows, by the ``retention`` job."""

    raw_inbound_days: float = Field(default=30.0, gt=0)
    """The raw bytes of processed inbound items (the messages stay)."""
    read_notifications_days: float = Field(default=90.0, gt=0)
    closed_tickets_years: float = Field(default=0.0, ge=0)
    """Closed tickets with their messages and attachments; 0 keeps them for ever."""
    batch_size: int = Field(default=1000, ge=1, le=100_000)
