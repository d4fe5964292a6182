"""The Prometheus metrics of one daemon, in a registry of its own (tests and embedders never
share the process-global default). ``ops/`` holds a dashboard and alert rules built on them.

Counters and histograms count what this daemon did; the queue gauges are read from the database
at scrape time, so every daemon sharing one reports the same values (aggregate them with
``max``). Names follow Prometheus' conventions; ``ops/README.md`` lists them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from importlib.metadata import version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.component import Component, State
from threadline.core.leased_queue import PARKED, PENDING
from threadline.core.models import InboundItem, OutboxItem
from threadline.core.models.base import now_utc

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
"""Seconds, from what a wake-up achieves (milliseconds) to what a retry does (an hour)."""
QUEUES = {"intake": InboundItem.__table__, "outbox": OutboxItem.__table__}


class DaemonMetrics:
    """What the daemon's parts report as they work; each method is safe from any thread."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._accepted = Counter(
            "threadline_inbound_accepted",
            "Raw items committed to the intake queue by this daemon (duplicates not counted).",
            ["channel"],
            registry=registry,
        )
        self._processed = Counter(
            "threadline_inbound_processed",
            "Inbound items handled by this daemon's processor, by how each try ended.",
            ["channel", "outcome"],
            registry=registry,
        )
        self._accept_to_stored = Histogram(
            "threadline_accept_to_stored_seconds",
            "From an item's accept to its message stored.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._sends = Counter(
            "threadline_sends",
            "Outbox sends tried by this daemon, by how each ended.",
            ["channel", "outcome"],
            registry=registry,
        )
        self._stored_to_sent = Histogram(
            "threadline_stored_to_sent_seconds",
            "From an outbox row's creation to its successful send.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def channels(self, names: Sequence[str]) -> None:
        """Every series of the listed channels from zero, so that a first parked item is an
        increase an alert sees, not the birth of a series."""
        for channel in names:
            self._accepted.labels(channel)
            self._accept_to_stored.labels(channel)
            self._stored_to_sent.labels(channel)
            for outcome in ("done", "ignored", "retrying", PARKED):
                self._processed.labels(channel, outcome)
            for outcome in ("sent", "retrying", PARKED):
                self._sends.labels(channel, outcome)

    def accepted(self, channels: Sequence[str]) -> None:
        for channel in channels:
            self._accepted.labels(channel).inc()

    def handled(self, channel: str, outcome: str, accepted_at: datetime) -> None:
        self._processed.labels(channel, outcome).inc()
        if outcome == "done":
            seconds = (now_utc() - accepted_at).total_seconds()
            self._accept_to_stored.labels(channel).observe(max(seconds, 0.0))

    def sent(self, channel: str, outcome: str, queued_at: datetime) -> None:
        self._sends.labels(channel, outcome).inc()
        if outcome == "sent":
            seconds = (now_utc() - queued_at).total_seconds()
            self._stored_to_sent.labels(channel).observe(max(seconds, 0.0))


class ComponentStateCollector(Collector):
    """``threadline_component_state{component, state}``: 1 for the current state, 0 for the
    others, read at scrape time so it never lags behind the components."""

    def __init__(self, components: Sequence[Component]) -> None:
        self._components = components

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "threadline_component_state",
            "State of each daemon component (1 for its current state).",
            labels=["component", "state"],
        )
        for component in self._components:
            for state in State:
                family.add_metric([component.name, state.value], float(component.state is state))
        yield family


class QueueCollector(Collector):
    """Depth by status and the oldest due pending row's age, per queue, from the database.
    /metrics renders in a worker thread, so the query never blocks the event loop."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "threadline_queue_depth", "Rows in the queue by status.", labels=["queue", "status"]
        )
        age = GaugeMetricFamily(
            "threadline_queue_oldest_pending_age_seconds",
            "Age of the oldest pending row that is due (0 when none).",
            labels=["queue"],
        )
        now = now_utc()
        with self._sessions() as session:
            for name, table in QUEUES.items():
                counts = _counts(session, table)
                for status in (PENDING, PARKED):
                    depth.add_metric([name, status], counts.get(status, 0))
                oldest = session.scalar(_oldest_due(table, now))
                age.add_metric([name], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield depth
        yield age


class JobCollector(Collector):
    """The scheduler's own counts of runs and failures per job, read at scrape time."""

    def __init__(self, stats: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "threadline_scheduler_job_runs", "Scheduled job runs on this daemon.", labels=["job_id"]
        )
        failures = CounterMetricFamily(
            "threadline_scheduler_job_failures",
            "Scheduled job runs on this daemon that raised.",
            labels=["job_id"],
        )
        for job_id, (ran, failed) in self._stats().items():
            runs.add_metric([job_id], ran)
            failures.add_metric([job_id], failed)
        yield runs
        yield failures


def make_registry() -> CollectorRegistry:
    """Build info and the standard process metrics (``process_start_time_seconds``...)."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    Info("threadline_build", "Version of the running threadline.", registry=registry).info(
        {"version": version("threadline")}
    )
    return registry


def _counts(session: Session, table: Table) -> dict[str, int]:
    """Pending and parked only, off the status index: done rows may be millions."""
    rows = session.execute(
        select(table.c.status, func.count())
        .where(table.c.status.in_((PENDING, PARKED)))
        .group_by(table.c.status)
    )
    return dict(rows.all())


def _oldest_due(table: Table, now: datetime) -> Select[tuple[datetime | None]]:
    """When the oldest due pending row became due: queued, or its retry fell due."""
    due = func.coalesce(table.c.next_attempt_at, table.c.created_at)
    return select(func.min(due)).where(
        table.c.status == PENDING,
        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
    )
