"""What a scheduled job is, apart from the scheduler that runs it (``daemon/scheduler.py``):
channels declare jobs for the components they provide (an IMAP mailbox's poll), and the
configuration checks schedules without starting (or importing) a scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from threadline.core.cron import cron_expression, cron_trigger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_JOB_ID = 100
"""The length of ``job_ticks.job_id``."""


@dataclass(frozen=True)
class Interval:
    """Every ``seconds``, at the multiples of it since the Unix epoch. Whole seconds, so every
    daemon computes exactly the same ticks."""

    seconds: int

    def __post_init__(self) -> None:
        if type(self.seconds) is not int or self.seconds < 1:
            raise ValueError(
                f"an interval is a whole number of seconds, at least 1: {self.seconds!r}"
            )

    def trigger(self) -> IntervalTrigger:
        return IntervalTrigger(seconds=self.seconds, start_date=EPOCH, timezone=UTC)


@dataclass(frozen=True)
class Cron:
    """A 5-field crontab expression, in UTC. Days of the week go by name (``mon-fri``):
    APScheduler 3 counts 0 as Monday where cron counts it as Sunday, so a number there would
    quietly run the job on another day."""

    expression: str

    def __post_init__(self) -> None:
        cron_expression(self.expression)

    def trigger(self) -> CronTrigger:
        return cron_trigger(self.expression, UTC)


Schedule = Interval | Cron


@dataclass(frozen=True)
class Job:
    id: str
    """Fixed: it keys the job's stats, its settings and its ``job_ticks`` rows."""
    run: Callable[[datetime], None]
    """Blocking work, run in a worker thread and given the tick it runs for (naive UTC)."""
    schedule: Schedule
    cluster_wide: bool = False
    """Once per tick across every daemon sharing the database, rather than in each of them."""

    def __post_init__(self) -> None:
        if not 0 < len(self.id) <= MAX_JOB_ID:
            raise ValueError(f"a job id has 1 to {MAX_JOB_ID} characters: {self.id!r}")
