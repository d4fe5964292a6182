"""The sd_notify protocol (sd_notify(3)), by hand: one datagram to ``$NOTIFY_SOCKET`` per state.

systemd's own documentation gives this as the reference implementation for languages without
libsystemd; a dependency for a dozen lines is not worth it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

_log = structlog.get_logger(__name__)


class Notifier:
    """Tells systemd READY/STOPPING/WATCHDOG; does nothing when not started by systemd."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # A name starting with "@" is in the abstract namespace, where the kernel wants a NUL.
        self._address = "\0" + address[1:] if address.startswith("@") else address

    def notify(self, *assignments: str) -> None:
        """Send ``READY=1`` and the like. Failures are logged, never raised: losing one
        notification must not bring the daemon down (systemd's timeouts catch a lasting loss)."""
        if not self._address:
            return
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Non-blocking: this runs on the event loop; a full queue drops the message.
                sock.setblocking(False)
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as error:
            _log.warning("sd_notify failed", message=message.decode(), error=str(error))


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of ``WatchdogSec``, as sd_watchdog_enabled(3)
    recommends; None when the watchdog is off or meant for another process."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2 / 1_000_000
