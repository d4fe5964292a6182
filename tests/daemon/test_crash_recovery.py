"""A processor killed with SIGKILL mid-batch loses nothing and stores nothing twice: its batch
rolls back, and once its lease expires ``threadline process`` handles the item exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.handlers import clients_named
from tests.support.hanging_processor import half_done, kill_while_handling
from tests.support.messages import email
from threadline.channels import normalized
from threadline.core.models import InboundItem, Message
from threadline.core.models.base import now_utc

ROOT = Path(__file__).resolve().parents[2]
THREADLINE = str(Path(sys.executable).with_name("threadline"))
LEASE_S = 2
WAIT_S = 30.0


def environment(db_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = db_url
    env["THREADLINE_INTAKE__LEASE"] = str(LEASE_S)
    return env


def threadline(
    env: dict[str, str], *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [THREADLINE, *args], input=stdin, env=env, capture_output=True, timeout=WAIT_S, check=False
    )


def the_item(sessions: sessionmaker[Session]) -> InboundItem:
    with sessions() as session:
        return session.scalars(select(InboundItem)).one()


def test_an_item_accepted_then_killed_mid_batch_is_processed_exactly_once_after_the_lease(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
):
    env = environment(db_url)
    mail = normalized.encode(email("ada@example.com", "<kill-9@example.com>"))
    ingested = threadline(env, "ingest", "--channel", "normalized", stdin=mail)
    assert ingested.returncode == 0, ingested.stderr

    kill_while_handling(env, tmp_path)

    killed = the_item(sessions)
    assert (killed.status, killed.attempts) == ("pending", 0)
    assert killed.lease_owner is not None
    assert killed.lease_expires_at is not None
    with sessions() as session:
        assert clients_named(session, half_done(killed.id)) == 0
    time.sleep(max(0.0, (killed.lease_expires_at - now_utc()).total_seconds()) + 0.1)

    processed = threadline(env, "process", "--until-idle")

    assert processed.returncode == 0, processed.stderr
    assert processed.stdout.startswith(b"processed 1 inbound item: 1 done")
    item = the_item(sessions)
    assert (item.status, item.attempts, item.lease_owner, item.raw) == ("done", 0, None, mail)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1
    assert item.message_id is not None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_items_a_killed_processor_had_leased_are_processed_right_after_the_daemon_starts(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
):
    """SQLite: the daemon's instance lock proves that the lease holder is gone, so its items
    do not wait out their lease (five minutes by default)."""
    env = environment(db_url)
    del env["THREADLINE_INTAKE__LEASE"]
    mail = normalized.encode(email("ada@example.com", "<killed@example.com>"))
    assert threadline(env, "ingest", "--channel", "normalized", stdin=mail).returncode == 0
    kill_while_handling(env, tmp_path)
    assert the_item(sessions).lease_expires_at > now_utc() + timedelta(minutes=4)

    start_daemon(db_url)

    deadline = time.monotonic() + WAIT_S
    while the_item(sessions).status != "done":
        assert time.monotonic() < deadline, "the killed processor's item waited for its lease"
        time.sleep(0.05)
