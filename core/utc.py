"""The clock as the schema stores it. A module of its own, without SQLAlchemy, so the accept
that runs without it (``core/driver_intake.py``) stamps rows as the models' defaults do."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """Naive UTC, the form every TIMESTAMP column of the schema holds."""
    return datetime.now(UTC).replace(tzinfo=None)
