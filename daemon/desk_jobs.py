"""The desk's scheduled jobs, each a function of core given its tick as the clock, each
cluster-wide (once per tick among the daemons sharing the database), and each keyed in the
database besides, so that a tick run twice does nothing twice:

- ``sla`` (every 30 s): SLA clocks and their reminders (``core/sla.py``).
- ``auto_close`` (every 15 min): tickets waiting for the client in vain (``core/auto_close.py``).
- ``digests`` (every minute): each agent's digest when their cron fires (``core/digest.py``).
- ``stuck_items`` (daily, 08:00 UTC): parked work, to the administrators (``core/stuck.py``).
- ``retention`` (hourly): what has been kept long enough goes (``core/retention.py``).

Each wakes this daemon's dispatcher when it queued something to send.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.schedules import Cron, Interval, Schedule
from threadline.core.auto_close import auto_close
from threadline.core.digest import send_digests
from threadline.core.models import JobTick
from threadline.core.retention import purge
from threadline.core.schedule_settings import calendars
from threadline.core.sla import SlaDesk, run_sla
from threadline.core.stuck import remind_stuck_items
from threadline.daemon import channels
from threadline.daemon.scheduler_settings import AUTO_CLOSE, DIGESTS, RETENTION, SLA, STUCK_ITEMS
from threadline.daemon.settings import Settings
from threadline.daemon.wake_hub import Topic, WakeHub

Run = Callable[[datetime], None]


def desk_jobs(
    settings: Settings, sessions: sessionmaker[Session], hub: WakeHub
) -> list[tuple[str, Schedule, Run]]:
    traits = channels.traits()
    notifications = settings.notifications
    sla = SlaDesk(
        sla=settings.sla,
        calendars=calendars(settings.calendars),
        notifications=notifications,
        traits=traits,
        routing=settings.routing,
        assignment=settings.assignment,
    )

    def wake_if(sent: object) -> None:
        if sent:
            hub.wake(Topic.OUTBOX)

    def run_sla_tick(tick: datetime) -> None:
        wake_if(run_sla(sessions, sla, tick).reminded)

    def run_auto_close(tick: datetime) -> None:
        done = auto_close(sessions, settings.auto_close, notifications, traits, tick)
        wake_if(done.noticed or done.closed or done.unresolved)

    def run_digests(tick: datetime) -> None:
        last = _previous_tick(sessions, DIGESTS, tick)
        wake_if(send_digests(sessions, settings.digests, notifications, traits, last, tick))

    def run_stuck_items(tick: datetime) -> None:
        wake_if(remind_stuck_items(sessions, notifications, traits, tick))

    jobs: list[tuple[str, Schedule, Run]] = [
        (SLA, Interval(30), run_sla_tick),
        (AUTO_CLOSE, Interval(900), run_auto_close),
        (STUCK_ITEMS, Cron("0 8 * * *"), run_stuck_items),
        (RETENTION, Interval(3600), lambda tick: purge(sessions, settings.retention, tick)),
    ]
    if settings.digests.enabled:
        jobs.append((DIGESTS, Interval(60), run_digests))
    return jobs


def _previous_tick(sessions: sessionmaker[Session], job_id: str, tick: datetime) -> datetime | None:
    """The tick this job last ran for, here or in another daemon: the digests fire for the
    times in between, so a restart neither skips nor repeats one."""
    with sessions() as session:
        return session.scalar(
            select(func.max(JobTick.tick)).where(JobTick.job_id == job_id, JobTick.tick < tick)
        )
