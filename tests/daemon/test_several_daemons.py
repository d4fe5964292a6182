"""Several ``threadline run`` processes on one PostgreSQL: work accepted anywhere is taken within
milliseconds by whichever is free, a cluster-wide job runs once per tick among them all, and
a daemon killed with its work leased hands it over within a tick, not a lease."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.hanging_processor import kill_while_handling
from tests.support.messages import email
from threadline.channels import normalized
from threadline.core.models import InboundItem, JobTick

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

THREADLINE = str(Path(sys.executable).with_name("threadline"))
SLOW_SWEEPS = {
    "THREADLINE_INTAKE__SWEEP_INTERVAL": "600",
    "THREADLINE_DISPATCH__SWEEP_INTERVAL": "600",
}
"""No sweep comes in time: only a notification can get the work taken."""
WAIT_S = 20.0


def ingest(db_url: str, number: int) -> None:
    """As an MTA hands a mail over: a process of its own, which wakes no daemon directly."""
    raw = normalized.encode(email("ada@example.com", f"<n{number}@example.com>"))
    done = subprocess.run(
        [THREADLINE, "ingest", "--channel", "normalized"],
        input=raw,
        env={"THREADLINE_DATABASE__URL": db_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def processed(sessions: sessionmaker[Session], count: int) -> list[InboundItem]:
    deadline = time.monotonic() + WAIT_S
    while True:
        with sessions() as session:
            items = list(session.scalars(select(InboundItem).order_by(InboundItem.id)))
        if len(items) == count and all(item.status == "done" for item in items):
            return items
        assert time.monotonic() < deadline, [(i.id, i.status) for i in items]
        time.sleep(0.01)


def test_an_item_accepted_anywhere_is_processed_within_200_ms_by_a_daemon(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session]
) -> None:
    for _ in range(2):
        start_daemon(db_url, env=SLOW_SWEEPS)
    # The first item also starts a parse worker; the second is timed.
    ingest(db_url, 1)
    processed(sessions, 1)

    ingest(db_url, 2)

    second = processed(sessions, 2)[1]
    took = (second.updated_at - second.created_at).total_seconds()
    assert took < 0.2, f"accepted at {second.created_at}, processed {took:.3f} s later"


def test_a_cluster_wide_job_runs_once_per_tick_across_three_daemons(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session]
) -> None:
    every_second = {"THREADLINE_SCHEDULER__JOBS": '{"lease_recovery": {"interval": 1}}'}
    daemons = [start_daemon(db_url, level="debug", env=every_second) for _ in range(3)]

    deadline = time.monotonic() + WAIT_S
    while True:
        with sessions() as session:
            ticks = session.scalars(
                select(JobTick.tick).where(JobTick.job_id == "lease_recovery")
            ).all()
        if len(ticks) >= 4:
            break
        assert time.monotonic() < deadline, ticks
        time.sleep(0.1)
    for daemon in daemons:
        assert daemon.stop() == 0

    runs = Counter(
        line["tick"]
        for daemon in daemons
        for line in daemon.log_lines()
        if line["event"] == "scheduled job ran" and line.get("job") == "lease_recovery"
    )
    with sessions() as session:
        claimed = session.scalars(
            select(JobTick.tick).where(JobTick.job_id == "lease_recovery")
        ).all()
    assert len(runs) >= 4
    assert set(runs.values()) == {1}, runs
    assert set(runs) == {tick.isoformat() for tick in claimed}


def test_work_leased_by_a_worker_that_died_is_taken_again_within_a_tick(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Its presence lock went with its connection: the next ``lease_recovery`` tick frees the
    lease (five minutes by default) and wakes the daemons."""
    ingest(db_url, 1)
    kill_while_handling({"THREADLINE_DATABASE__URL": db_url, "PATH": "/usr/bin:/bin"}, tmp_path)

    every_second = {"THREADLINE_SCHEDULER__JOBS": '{"lease_recovery": {"interval": 1}}'}
    start_daemon(db_url, env={**SLOW_SWEEPS, **every_second})

    (item,) = processed(sessions, 1)
    assert (item.status, item.attempts) == ("done", 0)
