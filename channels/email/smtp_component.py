"""The SMTP/LMTP listener as a daemon component: reported on /healthz and /metrics like the
runners, started and closed by the supervisor."""

from __future__ import annotations

import os

from threadline.channels.component import StartupError, State, describe_error
from threadline.channels.email.listener import MailListener

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
        """Failing while the latest mail could not be accepted (the sender was told 451): the
        database is out of reach, since an accept parses nothing."""
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
        try:
            await self._listener.start()
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise StartupError(f"cannot listen on smtp.listen {self.listen}: {reason}") from None
        self._state = State.IDLE

    async def close(self, timeout: float) -> None:
        await self._listener.close(timeout)
        self._state = State.STOPPED
