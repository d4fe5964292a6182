"""What the supervisor, /healthz and /metrics know about each long-running part of the daemon.

A separate module so the HTTP server reports on runners (and, later, listeners) without
importing them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class State(StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    FAILING = "failing"
    STOPPED = "stopped"


class Component(Protocol):
    """Anything whose health /healthz reports; ``failing`` turns the whole daemon unhealthy."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> State: ...

    @property
    def last_error(self) -> str | None: ...


def describe_error(error: BaseException) -> str:
    """One line for /healthz and ``last_error``: the driver's own message rather than
    SQLAlchemy's wrapper (which appends the SQL and a link), and only its first line."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
