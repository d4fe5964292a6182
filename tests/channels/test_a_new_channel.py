"""A channel is its descriptor and one line in the list of channels: the test-only ``pager``
channel (``tests/support/pager.py``), listed by ``tests/support/pager_daemon.py`` and nothing
else, takes pages on its own route, has them parsed and threaded, and carries the agent's
reply out through its own sender, while the agent works by mail as with any channel.
"""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import DaemonProcess, eventually, free_port, write_config
from tests.support.smtp_sink import SmtpSink
from threadline.core.models import ClientExternalId, InboundItem, Message, Ticket

PAGER_THREADLINE = (sys.executable, "-m", "tests.support.pager_daemon")
ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = "+14155550100"
AGENT = "grace@staff.example"
WAIT_S = 10.0


@dataclass
class PagerDesk:
    daemon: DaemonProcess
    smtp_port: int
    sink: SmtpSink
    outbox: Path
    sessions: sessionmaker[Session]

    def page(self, document: dict[str, Any] | bytes) -> tuple[int, Any]:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        url = f"http://127.0.0.1:{self.daemon.port}/pager/in"
        try:
            # With data, a POST.
            with urllib.request.urlopen(url, data=body, timeout=WAIT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def tickets(self) -> list[int]:
        with self.sessions() as session:
            return list(session.scalars(select(Ticket.id).order_by(Ticket.id)))

    def messages(self, ticket_id: int) -> list[tuple[str | None, str]]:
        with self.sessions() as session:
            rows = session.execute(
                select(Message.channel, Message.body)
                .where(Message.ticket_id == ticket_id)
                .order_by(Message.id)
            )
            return [(channel, body) for channel, body in rows]


@pytest.fixture
def pager_desk(tmp_path: Path, db_url: str, sessions: sessionmaker[Session]) -> Iterator[PagerDesk]:
    outbox = tmp_path / "pager-out"
    outbox.mkdir()
    with SmtpSink() as sink:
        http_port, smtp_port = free_port(), free_port()
        config = write_config(tmp_path / "config.toml", db_url, http_port)
        config.write_text(
            config.read_text()
            + '\n[email]\naddress = "support@desk.example"\ndomains = ["desk.example"]\n'
            + f'\n[smarthost]\nhost = "127.0.0.1"\nport = {sink.port}\ntimeout = 10\n'
            + f'\n[pager]\noutbox_dir = "{outbox}"\n'
        )
        added = subprocess.run(
            [*PAGER_THREADLINE, "users", "add", "Grace Hopper", AGENT, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        env = {"THREADLINE_SMTP__LISTEN": f"127.0.0.1:{smtp_port}", "PYTHONPATH": str(ROOT)}
        daemon = DaemonProcess(config, http_port, tmp_path, env, command=PAGER_THREADLINE)
        try:
            daemon.wait_until_serving()
            yield PagerDesk(daemon, smtp_port, sink, outbox, sessions)
        finally:
            daemon.kill()


def test_a_channel_listed_in_one_line_is_served_parsed_threaded_and_answered(
    pager_desk: PagerDesk,
) -> None:
    desk = pager_desk
    page = {"id": "p1", "from": CUSTOMER, "text": "The printer is on fire."}

    # Its route takes the page, durably, once: Slack-style retries are answered, not stored.
    assert desk.page(page) == (200, {"item": 1, "duplicate": False})
    assert desk.page(page) == (200, {"item": 1, "duplicate": True})
    (ticket,) = eventually("a ticket from the page", desk.tickets)
    assert desk.messages(ticket) == [("pager", "The printer is on fire.")]
    with desk.sessions() as session:
        assert session.scalars(select(ClientExternalId.value)).all() == [CUSTOMER]

    # The agent hears of it by mail and answers through the notification's Reply-To.
    notification = eventually("the agent's notification", lambda: desk.sink.received)[0]
    (reply_to,) = notification.message["Reply-To"].addresses
    answer = (
        f"From: Grace Hopper <{AGENT}>\r\nTo: {reply_to.addr_spec}\r\n"
        f"Subject: Re: {notification.message['Subject']}\r\nMessage-ID: <g1@staff.example>\r\n"
        "\r\nPull the plug, then use the extinguisher.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", desk.smtp_port, timeout=WAIT_S) as client:
        assert client.sendmail(AGENT, [reply_to.addr_spec], answer.encode()) == {}

    # The reply leaves on the customer's channel, through the pager's own sender.
    (sent,) = eventually("the reply at the pager", lambda: list(desk.outbox.glob("*.json")))
    out = json.loads(sent.read_text())
    assert (out["to"], out["kind"]) == (CUSTOMER, "reply")
    assert out["text"].startswith("Pull the plug, then use the extinguisher.")

    # The customer's answer to it threads back by the id the sender gave.
    answered = {"id": "p2", "from": CUSTOMER, "text": "Done.", "answers": sent.stem}
    assert desk.page(answered)[0] == 200
    eventually("the answer on the ticket", lambda: len(desk.messages(ticket)) == 3)
    assert desk.tickets() == [ticket]
    assert desk.messages(ticket)[2] == ("pager", "Done.")


def test_a_page_the_route_cannot_key_is_refused_and_nothing_is_stored(
    pager_desk: PagerDesk,
) -> None:
    status, _body = pager_desk.page(b"not json")

    assert status == 400
    with pager_desk.sessions() as session:
        assert session.scalars(select(InboundItem)).all() == []
