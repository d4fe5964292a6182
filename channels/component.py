"""The long-running parts of the daemon as the supervisor, /healthz and /metrics see them:
runners, listeners, pollers, the scheduler. Here rather than in ``daemon/`` because channels
provide some of them (docs/architecture.md)."""

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
    """Anything whose health /healthz reports; ``failing`` turns the whole daemon unhealthy, so
    a component fails for what an operator must fix (its server is unreachable), never for one
    item that could not be handled (that item is retried, then parked)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> State: ...

    @property
    def last_error(self) -> str | None: ...


class Service(Component, Protocol):
    """A component the supervisor starts and stops."""

    async def start(self) -> None:
        """Return once serving (a listener bound, a loop started); raise :class:`StartupError`
        when the daemon cannot run without it."""

    async def close(self, timeout: float) -> None:
        """Stop within ``timeout`` seconds: work in flight finishes, what outlives it ends."""


class StartupError(Exception):
    """The daemon cannot start; the message is one line that says what to do next."""


def describe_error(error: BaseException) -> str:
    """One line for /healthz and ``last_error``: the driver's own message rather than
    SQLAlchemy's wrapper (which appends the SQL and a link), and only its first line."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
