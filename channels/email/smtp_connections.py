"""Connections to the smarthost, kept open between mails: a connection per mail costs a TCP
and often a TLS handshake, a greeting, EHLO and AUTH, several round trips before each mail.

A connection serves one sending thread at a time. One idle too long, or used for many mails,
is closed rather than reused: servers drop idle clients (Postfix after 300 s) and some count
mails per session, and a connection dropped under us would cost a failed try.
"""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Callable

IDLE_S = 30.0
MAILS_PER_CONNECTION = 100


class _Open:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.mails = 0
        self.idle_since = time.monotonic()


class SmtpConnections:
    def __init__(self, connect: Callable[[], smtplib.SMTP]) -> None:
        self._connect = connect
        self._idle: list[_Open] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[_Open, bool]:
        """A connection and whether it was used before (the server may have dropped it)."""
        stale = []
        taken = None
        with self._lock:
            while self._idle and taken is None:
                candidate = self._idle.pop()
                if time.monotonic() - candidate.idle_since > IDLE_S:
                    stale.append(candidate)
                else:
                    taken = candidate
        for connection in stale:
            close(connection)
        if taken is not None:
            return taken, True
        return _Open(self._connect()), False

    def give_back(self, connection: _Open) -> None:
        connection.mails += 1
        if connection.mails >= MAILS_PER_CONNECTION:
            close(connection)
            return
        connection.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(connection)


def close(connection: _Open) -> None:
    """QUIT if the server still listens; a connection that fails even that is just dropped."""
    try:
        connection.smtp.quit()
    except (smtplib.SMTPException, OSError):
        connection.smtp.close()
