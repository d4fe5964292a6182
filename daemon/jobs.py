"""The daemon's scheduled jobs, each with a fixed id and a default schedule that
``[scheduler.jobs.<id>]`` may change or turn off (docs/architecture.md).

- ``intake_sweep`` and ``outbox_sweep``: wake this daemon's processor and dispatcher for work
  no wake-up announced (a retry whose backoff ended), every ``sweep_interval`` seconds.
- ``lease_recovery`` (PostgreSQL, cluster-wide): the leases of workers that died with their
  daemon end, so their work is taken again at once rather than when the lease expires.
- the desk's jobs (``daemon/desk_jobs.py``): SLA, auto-close, digests, stuck items, retention.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.schedules import Interval, Job, Schedule
from threadline.core.lease_recovery import release_orphaned
from threadline.core.models import InboundItem, OutboxItem
from threadline.daemon.desk_jobs import desk_jobs
from threadline.daemon.scheduler_settings import (
    LEASE_RECOVERY,
    schedule_for,
)
from threadline.daemon.settings import Settings
from threadline.daemon.wake_hub import Topic, WakeHub

QUEUES = (InboundItem.__table__, OutboxItem.__table__)
LEASE_RECOVERY_S = 15


def daemon_jobs(
    settings: Settings, sessions: sessionmaker[Session], hub: WakeHub, postgresql: bool
) -> list[Job]:
    """The jobs of this daemon, as configured; a job turned off is left out."""
    defined: list[tuple[str, Schedule, Callable[[datetime], None], bool]] = [
        ("intake_sweep", Interval(settings.intake.sweep_interval), _wake(hub, Topic.INTAKE), False),
        (
            "outbox_sweep",
            Interval(settings.dispatch.sweep_interval),
            _wake(hub, Topic.OUTBOX),
            False,
        ),
    ]
    if postgresql:
        defined.append((LEASE_RECOVERY, Interval(LEASE_RECOVERY_S), _recover(sessions, hub), True))
    defined += [(*job, True) for job in desk_jobs(settings, sessions, hub)]
    jobs = []
    for job_id, default, run, cluster_wide in defined:
        schedule = schedule_for(job_id, default, settings.scheduler)
        if schedule is not None:
            jobs.append(Job(job_id, run, schedule, cluster_wide))
    return jobs


def _wake(hub: WakeHub, topic: Topic) -> Callable[[datetime], None]:
    return lambda _tick: hub.wake(topic)


def _recover(sessions: sessionmaker[Session], hub: WakeHub) -> Callable[[datetime], None]:
    def recover(_tick: datetime) -> None:
        with sessions.begin() as session:
            released = release_orphaned(session.connection(), QUEUES)
        if released:
            hub.wake(Topic.INTAKE)
            hub.wake(Topic.OUTBOX)

    return recover
