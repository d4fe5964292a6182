"""Ticks of cluster-wide scheduled jobs that some daemon took (``daemon/scheduler.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base


class JobTick(Base):
    """One row per (job, tick) run: the primary key is what lets only one of the daemons sharing
    the database run a cluster-wide job for a tick."""

    __tablename__ = "job_ticks"

    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    tick: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    """The scheduled time the run is for (naive UTC), the same in every daemon."""
    instance: Mapped[str] = mapped_column(String(255))
    """The daemon that took the tick, for an operator reading the table."""
    started_at: Mapped[datetime] = mapped_column(DateTime())
