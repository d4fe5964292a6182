"""The PostgreSQL notification channel of a queue table: what a commit that adds work NOTIFYs and
what the daemons LISTEN on. A module of its own, without SQLAlchemy, for the accept that runs
without it (``core/driver_intake.py``)."""

from __future__ import annotations


def queue_channel(table: str) -> str:
    return f"threadline_{table}"
