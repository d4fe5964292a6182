"""The scheduler: wall-clock ticks under the real APScheduler, validated schedules, failures that
stay the job's own, cluster-wide jobs run once per tick across daemons, a stop that waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from threadline.channels.component import State
from threadline.channels.schedules import Cron, Interval, Job
from threadline.core.db import make_engine, session_factory
from threadline.core.models import JobTick
from threadline.core.models.base import now_utc
from threadline.daemon.scheduler import Scheduler
from threadline.daemon.scheduler_settings import JobSettings, SchedulerSettings, schedule_for

WAIT_S = 10.0
TICK = datetime(2026, 11, 23, 4, 0)
NEVER = Cron("0 0 1 1 *")
"""Far enough off that the real schedule stays out of tests that drive ticks by hand."""
NO_DATABASE: sessionmaker[Session] = sessionmaker()
"""Jobs that are not cluster-wide never open a session: this one would fail if they did."""

StartScheduler = Callable[..., Awaitable[Scheduler]]


class Calls:
    """A job body recording the ticks it ran for (from worker threads) and when it ran."""

    def __init__(self, fails: Callable[[int], bool] = lambda _number: False) -> None:
        self.ticks: list[datetime] = []
        self.ran_at: list[datetime] = []
        self._fails = fails
        self._lock = threading.Lock()

    def __call__(self, tick: datetime) -> None:
        with self._lock:
            self.ticks.append(tick)
            self.ran_at.append(now_utc())
            number = len(self.ticks)
        if self._fails(number):
            raise RuntimeError(f"run {number} broke")


async def eventually(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def start_scheduler() -> AsyncIterator[StartScheduler]:
    """Start schedulers for a test; those it did not stop are stopped at its end."""
    started: list[Scheduler] = []

    async def start(*jobs: Job, sessions: sessionmaker[Session] = NO_DATABASE) -> Scheduler:
        scheduler = Scheduler(jobs, sessions)
        await scheduler.start()
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        if scheduler.state is not State.STOPPED:
            await scheduler.close(timeout=WAIT_S)


@pytest.fixture
def three_engines(db_url: str) -> Iterator[list[Engine]]:
    """One database, three engines: three daemons sharing it."""
    engines = [make_engine(db_url) for _ in range(3)]
    yield engines
    for engine in engines:
        engine.dispose()


def all_at_once(schedulers: list[Scheduler], job_id: str, tick: datetime) -> list[bool]:
    """Every scheduler runs the tick at the same moment, each in a thread of its own."""
    barrier = threading.Barrier(len(schedulers))

    def run(scheduler: Scheduler) -> bool:
        barrier.wait(WAIT_S)
        return scheduler.run_tick(job_id, tick)

    with ThreadPoolExecutor(len(schedulers)) as pool:
        return list(pool.map(run, schedulers))


def job_ticks(engine: Engine) -> list[tuple[str, datetime, str]]:
    with session_factory(engine)() as session:
        rows = session.scalars(select(JobTick).order_by(JobTick.job_id, JobTick.tick))
        return [(row.job_id, row.tick, row.instance) for row in rows]


@pytest.mark.parametrize("seconds", [1, 7, 60, 90, 3600, 86400])
def test_interval_ticks_fall_on_multiples_of_the_interval_since_the_epoch(seconds: int):
    trigger = Interval(seconds).trigger()
    for now in (
        datetime(2026, 11, 23, 4, 5, 6, 789000, tzinfo=UTC),
        datetime(2026, 11, 23, 4, 5, 59, 999999, tzinfo=UTC),
    ):
        first = trigger.get_next_fire_time(None, now)
        assert first.timestamp() % seconds == 0
        assert now <= first < now + timedelta(seconds=seconds)
        assert trigger.get_next_fire_time(first, first) == first + timedelta(seconds=seconds)


async def test_an_interval_job_fires_on_the_real_scheduler_given_its_ticks(
    start_scheduler: StartScheduler,
):
    calls = Calls()
    scheduler = await start_scheduler(Job("heartbeat", calls, Interval(1)))

    await eventually(lambda: len(calls.ticks) >= 2)

    first, second = calls.ticks[:2]
    # The scheduled times themselves, on whole seconds, rather than the moments the runs began.
    assert first.tzinfo is None
    assert first.microsecond == 0
    assert second.microsecond == 0
    assert (second - first).total_seconds() in range(1, 4)
    for tick, ran_at in zip(calls.ticks, calls.ran_at, strict=True):
        assert tick <= ran_at < tick + timedelta(seconds=5)
    stats = scheduler.stats["heartbeat"]
    assert stats.runs >= 2
    assert stats.failures == 0
    assert stats.last_run_at in calls.ticks
    assert scheduler.last_error is None


def test_schedules_are_validated():
    assert Interval(30).seconds == 30
    for seconds in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="whole number of seconds"):
            Interval(seconds)
    assert Cron("*/5 * * * *").expression == "*/5 * * * *"
    assert Cron("30 3 * * mon-fri").trigger().get_next_fire_time(
        None,
        datetime(2026, 12, 5, 12, 0, tzinfo=UTC),  # a Saturday
    ) == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("61 * * * *", "the last value (61) is higher than the maximum value (59)"),
        ("* * *", "Wrong number of fields; got 3, expected 5"),
        ("0 3 * * 0", "name the days of the week"),
        ("0 0 31 2 *", "it never fires"),
    ],
)
def test_a_bad_cron_expression_says_what_is_wrong(expression: str, problem: str):
    with pytest.raises(ValueError, match="invalid cron expression") as raised:
        Cron(expression)
    assert repr(expression) in str(raised.value)
    assert problem in str(raised.value)

    with pytest.raises(ValidationError) as invalid:
        SchedulerSettings.model_validate({"jobs": {"purge": {"cron": expression}}})
    assert invalid.value.errors()[0]["loc"] == ("jobs", "purge", "cron")
    assert problem in str(invalid.value)


@pytest.mark.parametrize(
    ("job", "problem"),
    [
        ({"interval": 0}, "greater than 0"),
        ({"interval": 1.5}, "valid integer"),
        ({"interval": 60, "cron": "* * * * *"}, "interval or cron, not both"),
        ({"every": 60}, "Extra inputs are not permitted"),
    ],
)
def test_job_settings_refuse_what_is_not_one_schedule(job: dict[str, object], problem: str):
    with pytest.raises(ValidationError, match=problem):
        SchedulerSettings.model_validate({"jobs": {"purge": job}})


def test_the_configuration_overrides_or_disables_the_default_schedule():
    default = Interval(3600)
    settings = SchedulerSettings(
        jobs={
            "faster": JobSettings(interval=60),
            "nightly": JobSettings(cron="30 2 * * *"),
            "off": JobSettings(enabled=False),
            "unchanged": JobSettings(),
        }
    )
    assert schedule_for("faster", default, settings) == Interval(60)
    assert schedule_for("nightly", default, settings) == Cron("30 2 * * *")
    assert schedule_for("off", default, settings) is None
    assert schedule_for("unchanged", default, settings) == default
    assert schedule_for("not-configured", default, settings) == default
    assert schedule_for("faster", default, SchedulerSettings()) == default


def test_jobs_need_unique_ids_that_fit_their_column():
    noop = Calls()
    with pytest.raises(ValueError, match="1 to 100 characters"):
        Job("x" * 101, noop, NEVER)
    with pytest.raises(ValueError, match="unique: purge"):
        Scheduler([Job("purge", noop, NEVER), Job("purge", noop, NEVER)], NO_DATABASE)


async def test_a_failed_run_is_counted_and_shown_but_the_component_does_not_fail(
    start_scheduler: StartScheduler,
):
    calls = Calls(fails=lambda number: number == 1)
    scheduler = await start_scheduler(Job("flaky", calls, NEVER))
    stats = scheduler.stats["flaky"]

    with capture_logs() as logs:
        assert scheduler.run_tick("flaky", TICK) is True

    assert scheduler.state is State.IDLE
    assert (stats.runs, stats.failures, stats.last_run_at) == (1, 1, TICK)
    assert stats.last_error == "RuntimeError: run 1 broke"
    assert scheduler.last_error == "flaky: RuntimeError: run 1 broke"
    failed = [log for log in logs if log["event"] == "scheduled job failed"]
    assert [(log["log_level"], log["job"], log["tick"]) for log in failed] == [
        ("error", "flaky", TICK.isoformat())
    ]

    later = TICK + timedelta(minutes=1)
    assert scheduler.run_tick("flaky", later) is True

    assert calls.ticks == [TICK, later]
    assert (stats.runs, stats.failures, stats.last_run_at) == (2, 1, later)
    assert stats.last_error is None
    assert scheduler.last_error is None
    assert scheduler.state is State.IDLE


async def test_a_job_that_keeps_failing_keeps_its_ticks(start_scheduler: StartScheduler):
    calls = Calls(fails=lambda _number: True)
    scheduler = await start_scheduler(Job("broken", calls, Interval(1)))

    await eventually(lambda: scheduler.stats["broken"].failures >= 2)

    assert scheduler.state in (State.IDLE, State.BUSY)
    assert scheduler.last_error is not None
    assert scheduler.last_error.startswith("broken: RuntimeError: run ")
    assert len(set(calls.ticks)) == len(calls.ticks)


def test_a_cluster_wide_tick_runs_once_across_daemons(three_engines: list[Engine]):
    purge, local = Calls(), Calls()
    daemons = [
        Scheduler(
            [
                Job("purge", purge, NEVER, cluster_wide=True),
                Job("local", local, NEVER),
            ],
            session_factory(engine),
            instance=f"daemon-{number}",
        )
        for number, engine in enumerate(three_engines)
    ]
    later = TICK + timedelta(minutes=1)

    first = all_at_once(daemons, "purge", TICK)
    second = all_at_once(daemons, "purge", later)

    assert sorted(first) == sorted(second) == [False, False, True]
    assert purge.ticks == [TICK, later]
    takers = [daemons[first.index(True)].instance, daemons[second.index(True)].instance]
    assert job_ticks(three_engines[0]) == [
        ("purge", TICK, takers[0]),
        ("purge", later, takers[1]),
    ]
    assert sum(daemon.stats["purge"].runs for daemon in daemons) == 2

    assert all_at_once(daemons, "local", TICK) == [True, True, True]
    assert local.ticks == [TICK, TICK, TICK]
    assert len(job_ticks(three_engines[0])) == 2


def test_cluster_wide_rows_are_kept_a_week(sessions: sessionmaker[Session], engine: Engine):
    noop = Calls()
    scheduler = Scheduler(
        [
            Job("purge", noop, NEVER, cluster_wide=True),
            Job("other", noop, NEVER, cluster_wide=True),
        ],
        sessions,
        instance="daemon",
    )
    for job_id, tick in [
        ("other", TICK - timedelta(days=8)),
        ("purge", TICK - timedelta(days=8)),
        ("purge", TICK - timedelta(days=6)),
        ("purge", TICK),
    ]:
        assert scheduler.run_tick(job_id, tick) is True

    assert job_ticks(engine) == [
        ("other", TICK - timedelta(days=8), "daemon"),
        ("purge", TICK - timedelta(days=6), "daemon"),
        ("purge", TICK, "daemon"),
    ]


async def test_the_real_schedule_takes_cluster_wide_ticks_like_run_tick(
    db_url: str, start_scheduler: StartScheduler
):
    engines = [make_engine(db_url) for _ in range(2)]
    calls = Calls()
    try:
        daemons = [
            await start_scheduler(
                Job("purge", calls, Interval(1), cluster_wide=True),
                sessions=session_factory(engine),
            )
            for engine in engines
        ]
        await eventually(lambda: len(calls.ticks) >= 3)
        for daemon in daemons:
            await daemon.close(timeout=WAIT_S)
    finally:
        for engine in engines:
            engine.dispose()

    assert len(set(calls.ticks)) == len(calls.ticks)
    assert sum(daemon.stats["purge"].runs for daemon in daemons) == len(calls.ticks)
    assert all(daemon.stats["purge"].failures == 0 for daemon in daemons)


async def test_stop_waits_for_the_run_in_flight(start_scheduler: StartScheduler):
    started, release = threading.Event(), threading.Event()
    finished: list[datetime] = []

    def slow(tick: datetime) -> None:
        started.set()
        release.wait(WAIT_S)
        finished.append(tick)

    scheduler = await start_scheduler(Job("slow", slow, Interval(1)))
    await eventually(started.is_set)
    assert scheduler.state is State.BUSY

    stopping = asyncio.create_task(scheduler.close(timeout=WAIT_S))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not stopping.done()
    assert not finished

    release.set()
    await asyncio.wait_for(stopping, WAIT_S)

    assert len(finished) == 1
    assert scheduler.state is State.STOPPED


async def test_stop_waits_no_longer_than_its_timeout(start_scheduler: StartScheduler):
    started, release = threading.Event(), threading.Event()

    def stuck(_tick: datetime) -> None:
        started.set()
        release.wait(WAIT_S)

    scheduler = await start_scheduler(Job("stuck", stuck, Interval(1)))
    try:
        await eventually(started.is_set)
        began = time.monotonic()
        with capture_logs() as logs:
            await scheduler.close(timeout=0.1)
        assert time.monotonic() - began < WAIT_S / 2
        assert scheduler.state is State.STOPPED
        warnings = [log for log in logs if log["log_level"] == "warning"]
        assert [log["jobs"] for log in warnings] == [["job:stuck"]]
    finally:
        release.set()
