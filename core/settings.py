"""Settings sections that the core rules read."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from threadline.core.config_types import Secret

DEFAULT_DATABASE_URL = "sqlite:///var/threadline.db"
MAX_PARSE_WORKERS = 64
AUTO_PARSE_WORKERS = 2
"""Enough to keep up with one processor, which spends about as long storing an item as a worker
parsing it."""

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
    department: str = Field(min_length=1)


class RoutingSettings(Section):
    rules: list[RouteRule] = Field(default_factory=list)
    """First match wins."""
    default_department: str = ""
    assignment: Literal["none", "round_robin", "least_loaded"] = "none"


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
