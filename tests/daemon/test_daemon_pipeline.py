"""The running daemon end to end: an item ingested by another process becomes a ticket, its
notifications reach the outbox, and the dispatcher is woken for them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.test_daemon_process import assert_one_line_error
from tests.support.messages import email
from tests.support.smtp_sink import SmtpSink
from threadline.channels import normalized
from threadline.core.models import InboundItem, Message, OutboxItem, Ticket, User

THREADLINE = str(Path(sys.executable).with_name("threadline"))
FAST = {"THREADLINE_INTAKE__SWEEP_INTERVAL": "1", "THREADLINE_DISPATCH__SWEEP_INTERVAL": "60"}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """The smarthost the daemon's notifications go to."""
    with SmtpSink() as sink:
        yield sink


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    pytest.fail("condition not reached in time")


def test_ingested_mail_becomes_a_ticket_and_its_notification_is_dispatched(
    start_daemon: Any,
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    sink: SmtpSink,
) -> None:
    with sessions.begin() as session:
        session.add(User(name="Grace", email="grace@desk.example", type="agent"))
    daemon = start_daemon(db_url, env={**FAST, "THREADLINE_SMARTHOST__PORT": str(sink.port)})
    raw = tmp_path / "mail.json"
    raw.write_bytes(normalized.encode(email("ada@example.com", "e2e@mail", subject="Hi")))
    ingest = subprocess.run(
        [THREADLINE, "ingest", "--channel", normalized.CHANNEL, str(raw)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"THREADLINE_DATABASE__URL": db_url, "PATH": "/usr/bin:/bin"},
    )
    assert ingest.returncode == 0, ingest.stderr

    def ticket_title() -> str | None:
        with sessions() as session:
            return session.scalar(select(Ticket.title))

    assert wait_for(ticket_title) == "Hi"

    def dispatched() -> OutboxItem | None:
        with sessions() as session:
            return session.scalar(select(OutboxItem).where(OutboxItem.status != "pending"))

    # The dispatcher sweeps only every 60 s here: reaching it proves the processor woke it.
    row = wait_for(dispatched)
    assert (row.recipient, row.kind, row.status) == ("grace@desk.example", "notification", "sent")
    (received,) = sink.received
    assert received.rcpt_tos == ("grace@desk.example",)
    assert received.message["Message-ID"] == f"<{row.provider_id}>"
    with sessions() as session:
        assert session.scalar(select(Message.body)) == "Hello"
    assert daemon.stop() == 0


def test_a_routing_rule_naming_a_missing_department_stops_the_start(
    start_daemon: Any, db_url: str
) -> None:
    daemon = start_daemon(
        db_url, env={"THREADLINE_ROUTING__DEFAULT_DEPARTMENT": "Nowhere"}, wait=False
    )
    assert_one_line_error(daemon, "routing:", "Nowhere")


def test_an_item_that_fails_is_parked_and_leaves_the_daemon_healthy(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Anyone who can send the desk something can send something broken: it is the item's
    failure, never the daemon's."""
    daemon = start_daemon(db_url, env={**FAST, "THREADLINE_INTAKE__MAX_ATTEMPTS": "1"})
    garbled = tmp_path / "garbled.json"
    garbled.write_bytes(b'{"channel": "email", "sender": "\x00 not a sender"}')
    ingest = subprocess.run(
        [THREADLINE, "ingest", "--channel", normalized.CHANNEL, str(garbled)],
        capture_output=True,
        timeout=60,
        env={"THREADLINE_DATABASE__URL": db_url, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr

    def parked() -> InboundItem | None:
        with sessions() as session:
            return session.scalar(select(InboundItem).where(InboundItem.status == "parked"))

    item = wait_for(parked)
    assert item.last_error.startswith("Park: not a normalized message")
    status, body = daemon.get("/healthz")
    assert status == 200, body
    assert json.loads(body)["components"]["processor"]["state"] in ("idle", "busy")
