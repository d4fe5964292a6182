"""The SMTP/LMTP listener as a daemon component: built from the settings, reported on /healthz
and /metrics like the runners, and waking this process's processor after every accept.

The listener itself lives in ``channels.email``, which may not know the daemon's states.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from threadline.channels.email.listener import MailListener
from threadline.core.db import session_factory
from threadline.core.intake import Intake
from threadline.daemon.component import State, describe_error
from threadline.daemon.settings import Settings

NAME = "smtp"


class SmtpListener:
    def __init__(self, listener: MailListener) -> None:
        self._listener = listener
        self.listen = listener.listen
        self._state = State.STARTING

    @property
    def name(self) -> str:
        return NAME

    @property
    def state(self) -> State:
        """Failing while the latest mail could not be accepted (the sender was told 451)."""
        if self._state is not State.IDLE:
            return self._state
        if self._listener.handler.last_failure is not None:
            return State.FAILING
        return State.BUSY if self._listener.handler.busy else State.IDLE

    @property
    def last_error(self) -> str | None:
        failure = self._listener.handler.last_failure
        return describe_error(failure) if failure is not None else None

    async def start(self) -> None:
        """Raises OSError when ``smtp.listen`` cannot be bound."""
        await self._listener.start()
        self._state = State.IDLE

    async def close(self, timeout: float) -> None:
        await self._listener.close(timeout)
        self._state = State.STOPPED


def build_smtp_listener(
    settings: Settings, engine: Engine, on_accepted: Callable[[], None] | None
) -> SmtpListener | None:
    """None when ``smtp.enabled`` is false; raises ListenerSetupError for unusable settings."""
    if not settings.smtp.enabled:
        return None
    intake = Intake(session_factory(engine), on_accepted=on_accepted)
    return SmtpListener(MailListener(intake, settings.email, settings.smtp))
