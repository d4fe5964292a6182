"""One daemon per SQLite file.

SQLite has one writer and no row leases, so two processors on one file would claim the same
items twice. PostgreSQL coordinates several instances itself (SKIP LOCKED, advisory locks), so it
takes no lock here. The lock is ``flock`` on a file beside the database: the kernel drops it when
the process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class InstanceLocked(Exception):
    """Another ``threadline run`` holds the database; the message names the file and its pid."""


class InstanceLock:
    """Held from :func:`acquire` until :meth:`release` (or the process ends)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        # Closing drops the flock. The file stays: deleting it would race with an instance that
        # has just opened it, which would then lock an unlinked file while the next creates and
        # locks a new one.
        os.close(self._fd)


def acquire(database_url: str) -> InstanceLock | None:
    """Lock a SQLite database file for this process; None for PostgreSQL or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database).resolve()
    path = database.with_name(database.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise InstanceLocked(
            f"another threadline (pid {holder}) is already running on {database}; "
            "with SQLite only one instance may run (use PostgreSQL for several)"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return InstanceLock(fd)
