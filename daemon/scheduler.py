"""Jobs that run on a schedule, as one daemon component on APScheduler 3.x.

Ticks are wall-clock times, so every daemon computes the same ones: an interval job of N seconds
fires at the multiples of N seconds since the Unix epoch, a cron job at its cron times in UTC.
Each run is given its tick (naive UTC), the time it was scheduled for rather than the moment it
happened to start.

A cluster-wide job runs once per tick across all the daemons sharing a database. Before running
it, a daemon inserts (job id, tick) into ``job_ticks`` in a short transaction of its own, and
runs the job only if its insert took the row. The primary key alone makes that exactly one
daemon per tick: two inserts of one key cannot both commit (PostgreSQL makes the second wait for
the first, then do nothing; SQLite takes its write lock at BEGIN), however the daemons' clocks
and timers interleave, and the row is committed before the job starts, so no daemon can still
take a tick that another is running. An advisory lock held during the run would add nothing to
that. What it could add, keeping a run that outlasts its interval from overlapping the next
tick's run on another daemon, would hold a connection for the whole run; jobs should rather end
well within their interval (``max_instances`` only keeps one daemon's runs of a job apart).
A daemon that dies mid-run loses that tick: the next tick runs the job again, as after a failure.

A run that raises is logged, counted in its job's :class:`JobStats` and shown as ``last_error``,
but never turns the component ``failing``: one failed run must not make the daemon unhealthy,
and the next tick runs the job again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job as ScheduledJob
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.component import State, describe_error
from threadline.channels.schedules import EPOCH, Job
from threadline.core.db import unit_of_work, upsert_insert
from threadline.core.models import JobTick
from threadline.core.models.base import now_utc

NAME = "scheduler"
MISFIRE_GRACE_S = 300
"""A tick found later than this (the host slept, the event loop stalled) is skipped rather than
run at an odd time; the next tick runs as usual."""
TICK_RETENTION = timedelta(days=7)
"""How long a cluster-wide tick's row is kept: far longer than any daemon may still try to take
that tick (the misfire grace plus clock skew)."""

_log = structlog.get_logger(__name__, component=NAME)


@dataclass
class JobStats:
    """Per job, for /metrics. Written by the job's runs, which never overlap in one daemon
    (``max_instances=1``)."""

    runs: int = 0
    """Ticks this daemon ran the job for; a cluster-wide tick another daemon took is none."""
    failures: int = 0
    """Ticks that ended in an error here: the job raised, or its tick could not be claimed."""
    last_run_at: datetime | None = None
    """The tick of the latest run here."""
    last_error: str | None = None
    """The latest failure, until the job next runs without one."""


class Scheduler:
    """Runs each :class:`Job` on its :class:`Schedule`, in a worker thread, one run of a job at a
    time; a tick due while the previous run goes on is dropped (``coalesce``, ``max_instances``).

    :meth:`run_tick` is the whole of one tick, so tests drive ticks of their choosing through the
    same path as the real schedule.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        sessions: sessionmaker[Session],
        *,
        instance: str | None = None,
        misfire_grace: int = MISFIRE_GRACE_S,
    ) -> None:
        """``sessions``: the database the cluster-wide jobs claim their ticks in. ``instance``:
        this daemon's name in ``job_ticks``; unique by default."""
        duplicates = [
            job_id for job_id, count in Counter(job.id for job in jobs).items() if count > 1
        ]
        if duplicates:
            raise ValueError(f"job ids must be unique: {', '.join(duplicates)}")
        self._jobs = {job.id: job for job in jobs}
        self._stats = {job.id: JobStats() for job in jobs}
        self._sessions = sessions
        self.instance = instance or _instance_name()
        self._executor = _TickExecutor()
        self._apscheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": self._executor},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": misfire_grace,
            },
            timezone=UTC,
        )
        for job in jobs:
            self._apscheduler.add_job(
                self._fire, job.schedule.trigger(), args=(job.id,), id=job.id, name=job.id
            )
        self._state = State.STARTING
        self._stopping = False

    @property
    def name(self) -> str:
        return NAME

    @property
    def state(self) -> State:
        """Busy while a scheduled tick runs; never failing (see the module's docstring)."""
        if self._state is State.IDLE and self._executor.tasks:
            return State.BUSY
        return self._state

    @property
    def last_error(self) -> str | None:
        """Each job whose latest run failed, with its error."""
        failed = [
            f"{job_id}: {stats.last_error}"
            for job_id, stats in self._stats.items()
            if stats.last_error is not None
        ]
        return "; ".join(failed) or None

    def counts(self) -> dict[str, tuple[int, int]]:
        """Runs and failures per job id, for the metrics."""
        return {job_id: (stats.runs, stats.failures) for job_id, stats in self._stats.items()}

    @property
    def stats(self) -> Mapping[str, JobStats]:
        """Per job id."""
        return self._stats

    async def start(self) -> None:
        """The first tick of each job is the first one after now."""
        self._apscheduler.start()
        self._state = State.IDLE
        _log.info("scheduler started", jobs=sorted(self._jobs), instance=self.instance)

    async def close(self, timeout: float) -> None:
        """No tick starts from now on; the runs in progress get ``timeout`` seconds to end. One
        still going then is no longer waited for (its thread cannot be interrupted)."""
        self._stopping = True
        if self._apscheduler.running:
            self._apscheduler.shutdown(wait=False)
        in_flight = set(self._executor.tasks)
        if in_flight:
            _done, pending = await asyncio.wait(in_flight, timeout=timeout)
            if pending:
                _log.warning(
                    "scheduled jobs still running at stop, no longer waited for",
                    jobs=sorted(task.get_name() for task in pending),
                    timeout=timeout,
                )
                for task in pending:
                    task.cancel()
        self._state = State.STOPPED

    def run_tick(self, job_id: str, tick: datetime) -> bool:
        """One tick of one job, as the schedule runs it: a cluster-wide job only if this daemon
        takes the tick. Blocking (the job runs in the calling thread). True if the job ran here,
        even if it failed: a failure is counted, logged and shown, never raised."""
        job = self._jobs[job_id]
        stats = self._stats[job_id]
        tick = tick.astimezone(UTC).replace(tzinfo=None) if tick.tzinfo else tick
        log = _log.bind(job=job_id, tick=tick.isoformat())
        try:
            if job.cluster_wide and not self._claim(job_id, tick):
                log.debug("scheduled tick taken by another daemon")
                return False
        except Exception as error:
            _failed(stats, error)
            log.exception("scheduled tick could not be claimed", failures=stats.failures)
            return False
        stats.runs += 1
        stats.last_run_at = tick
        try:
            job.run(tick)
        except Exception as error:
            _failed(stats, error)
            log.exception("scheduled job failed", failures=stats.failures)
            return True
        stats.last_error = None
        log.debug("scheduled job ran")
        return True

    def _claim(self, job_id: str, tick: datetime) -> bool:
        """True if this daemon's insert took the tick's row; committed before the job runs, so
        the other daemons see it. The taker also drops the job's rows past retention."""
        with unit_of_work(self._sessions) as session:
            insert = upsert_insert(session)(JobTick).values(
                job_id=job_id, tick=tick, instance=self.instance, started_at=now_utc()
            )
            # RETURNING rather than rowcount, which an ORM insert leaves at -1 on PostgreSQL.
            taken = session.execute(insert.on_conflict_do_nothing().returning(JobTick.tick))
            if taken.first() is None:
                return False
            session.execute(
                delete(JobTick).where(
                    JobTick.job_id == job_id, JobTick.tick < tick - TICK_RETENTION
                )
            )
        return True

    async def _fire(self, job_id: str, fire_time: datetime = EPOCH) -> None:
        """A tick from the executor, which passes its fire time (the default only satisfies
        APScheduler's check, in ``add_job``, that ``args`` make a whole call)."""
        if not self._stopping:
            await asyncio.to_thread(self.run_tick, job_id, fire_time)


class _TickExecutor(BaseExecutor):
    """Runs each due job as a task on the event loop, like APScheduler's ``AsyncIOExecutor``,
    but passes the job's function the time it fires for, which APScheduler's own executors keep
    to themselves. With ``coalesce`` there is one such time, the latest due; like APScheduler's
    executors, it skips one found later than the job's ``misfire_grace_time``."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: set[asyncio.Task[None]] = set()

    def _do_submit_job(self, job: ScheduledJob, run_times: list[datetime]) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(job, run_times[-1]), name=f"job:{job.id}"
        )
        self.tasks.add(task)
        task.add_done_callback(partial(self._finished, job.id))

    async def _run(self, job: ScheduledJob, fire_time: datetime) -> None:
        late = datetime.now(UTC) - fire_time
        if late > timedelta(seconds=job.misfire_grace_time):
            _log.warning(
                "scheduled tick missed",
                job=job.id,
                tick=fire_time.isoformat(),
                late_s=round(late.total_seconds()),
            )
            return
        await job.func(*job.args, fire_time)

    def _finished(self, job_id: str, task: asyncio.Task[None]) -> None:
        """Frees the job's one instance (``max_instances``) for its next tick."""
        self.tasks.discard(task)
        self._run_job_success(job_id, [])


def _failed(stats: JobStats, error: Exception) -> None:
    stats.failures += 1
    stats.last_error = describe_error(error)


def _instance_name() -> str:
    """Readable in ``job_ticks``; the random part keeps two schedulers of one host apart."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
