"""``threadline run`` with an IMAP mailbox: mail in Dovecot becomes a ticket, /healthz reports
the mailbox, SIGTERM is prompt while it idles, and on PostgreSQL a second daemon takes the
mailbox over when the first is killed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import DaemonProcess, free_port, write_config
from tests.support.dovecot import PASSWORD, Account
from tests.support.imap import mail, mailbox_toml
from threadline.core.models import InboundItem, Ticket

SLOW_SWEEP = {"THREADLINE_INTAKE__SWEEP_INTERVAL": "60"}
"""The processor would only look every minute: a ticket within seconds proves the poller woke
it."""

StartDaemon = Callable[..., DaemonProcess]
LOG_TAIL = 8000
"""Characters of each log printed after a test."""


@pytest.fixture
def start_imap_daemon(tmp_path: Path, account: Account) -> Iterator[StartDaemon]:
    """Start daemons polling the test's account; whatever still runs at the end is killed."""
    started: list[DaemonProcess] = []
    password = tmp_path / "imap-password"
    password.write_text(PASSWORD)

    def start(db_url: str, poll_interval: int = 60) -> DaemonProcess:
        port = free_port()
        config = write_config(tmp_path / f"config-{port}.toml", db_url, port)
        config.write_text(config.read_text() + mailbox_toml(account, password, poll_interval))
        daemon = DaemonProcess(config, port, tmp_path, SLOW_SWEEP)
        started.append(daemon)
        daemon.wait_until_serving()
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
        # Shown only when the test failed: what the daemon and the server saw, for a failure
        # that does not come back when the test is run again.
        print(f"daemon log:\n{daemon.stdout[-LOG_TAIL:]}{daemon.stderr[-LOG_TAIL:]}")
    server_log = account.server.directory / "dovecot.log"
    if server_log.exists():
        print(f"Dovecot log:\n{server_log.read_text(errors='replace')[-LOG_TAIL:]}")


def mailbox_state(daemon: DaemonProcess) -> str:
    _status, body = daemon.get("/healthz")
    return json.loads(body)["components"]["imap:support"]["state"]


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def tickets(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Ticket.title).order_by(Ticket.id)))


def test_mail_in_the_mailbox_becomes_a_ticket_and_sigterm_is_prompt_while_idling(
    start_imap_daemon: StartDaemon,
    db_url: str,
    sessions: sessionmaker[Session],
    account: Account,
):
    daemon = start_imap_daemon(db_url)
    wait_for(lambda: mailbox_state(daemon) == "idle")

    account.append(mail(1, sender="ada@example.com"))
    assert wait_for(lambda: tickets(sessions) == ["Question 1"]) < 5
    with sessions() as session:
        assert session.scalar(select(InboundItem.status)) == "done"
    assert account.flags()[1] >= {b"\\Seen"}

    wait_for(lambda: mailbox_state(daemon) == "idle")
    started = time.monotonic()
    assert daemon.stop(timeout=5) == 0
    assert time.monotonic() - started < 3
    assert daemon.stderr == ""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_second_daemon_takes_the_mailbox_over_when_the_first_is_killed(
    start_imap_daemon: StartDaemon,
    db_url: str,
    sessions: sessionmaker[Session],
    account: Account,
):
    first = start_imap_daemon(db_url, poll_interval=1)
    first.wait_for_log("imap mailbox connected")
    second = start_imap_daemon(db_url, poll_interval=1)
    second.wait_for_log("imap mailbox polled elsewhere")

    first.kill()
    second.wait_for_log("imap mailbox taken over")
    account.append(mail(1))
    wait_for(lambda: tickets(sessions) == ["Question 1"])
    assert [line["event"] for line in second.log_lines()].count("imap mailbox connected") == 1
