"""Settings sections that the core rules read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from threadline.core.config_types import Processes, Secret
from threadline.core.database_url import DEFAULT_DATABASE_URL, NOT_A_URL, supported_url
from threadline.core.notification_types import TYPES

Strategy = Literal["none", "round_robin", "least_loaded"]


class Section(BaseModel):
    """Base of every section: unknown keys are mistakes, reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: Annotated[str, Secret()] = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        """As ``threadline ingest`` reads it (``supported_url``), once SQLAlchemy parses it."""
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(NOT_A_URL) from None
        return supported_url(value)


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
    parse_workers: Processes = "auto"
    """Processes that parse the next batch while the processor handles the current one
    (``daemon/parse_workers.py``). On 2 CPUs, ``auto``'s one worker handled mail 7 % faster than
    two, which took turns with the processor."""

    parse_timeout: float = Field(default=60.0, gt=0)
    """Seconds a parse worker may spend on its share of a batch (normally milliseconds): one
    that runs over is ended, and its items are parsed again one at a time, so only a mail that
    keeps a parser busy that long fails (retried, then parked). Items parsed in the processor
    itself (``parse_workers = 0``, items over 1 MiB) have no such bound."""


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
    batch_size: int = Field(default=200, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=64)
    """Rows of different tickets sent at once (threads); a ticket's rows go one at a time."""
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
