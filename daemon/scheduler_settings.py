"""``[scheduler]``: the configuration only overrides the schedule each job is registered with,
so a job keeps running on its default unless the operator changes or disables it."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from threadline.channels.schedules import Cron, Interval, Schedule
from threadline.core.settings import Section

INTAKE_SWEEP = "intake_sweep"
OUTBOX_SWEEP = "outbox_sweep"
LEASE_RECOVERY = "lease_recovery"
SLA, AUTO_CLOSE, DIGESTS, STUCK_ITEMS, RETENTION = (
    "sla",
    "auto_close",
    "digests",
    "stuck_items",
    "retention",
)
JOB_IDS = (
    INTAKE_SWEEP,
    OUTBOX_SWEEP,
    LEASE_RECOVERY,
    SLA,
    AUTO_CLOSE,
    DIGESTS,
    STUCK_ITEMS,
    RETENTION,
)
"""The daemon's jobs (``daemon/jobs.py``), the ids ``[scheduler.jobs]`` may name."""


class JobSettings(Section):
    """One job: another ``interval`` or ``cron`` (not both), or ``enabled = false``."""

    interval: int | None = Field(default=None, gt=0)
    """Seconds between runs, which fall on the multiples of it since the Unix epoch."""
    cron: str | None = None
    """A 5-field crontab expression in UTC, with the days of the week by name."""
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            Cron(value)
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobSettings:
        if self.interval is not None and self.cron is not None:
            raise ValueError("give interval or cron, not both")
        return self


class SchedulerSettings(Section):
    jobs: dict[str, JobSettings] = Field(default_factory=dict)
    """By job id; a job not named here runs on the schedule its code gives it."""


def schedule_for(job_id: str, default: Schedule, settings: SchedulerSettings) -> Schedule | None:
    """The job's schedule: ``default`` unless the configuration overrides it; None if it
    disables the job."""
    job = settings.jobs.get(job_id)
    if job is None:
        return default
    if not job.enabled:
        return None
    if job.interval is not None:
        return Interval(job.interval)
    if job.cron is not None:
        return Cron(job.cron)
    return default


def unknown_jobs(settings: SchedulerSettings) -> list[str]:
    """``[scheduler.jobs]`` entries that name no job: a typo would silently change nothing."""
    return [
        f"scheduler.jobs.{job_id}: no such job; the jobs are {', '.join(JOB_IDS)}"
        for job_id in settings.jobs
        if job_id not in JOB_IDS
    ]
