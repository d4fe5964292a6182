"""The ticket's life by mail, end to end: the daemon as a subprocess on each database, clients
and agents writing through its SMTP listener, every mail it sends caught at a sink."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import DaemonProcess, eventually
from tests.support.desk_process import desk_daemon
from tests.support.smtp_sink import Received, SmtpSink
from threadline.core.models import Ticket

DESK = "support@desk.example"
GRACE, ALAN = "grace@staff.example", "alan@staff.example"
CLIENT = "cfo@bigcorp.example"
RULES = f"""
[assignment]
[[assignment.rules]]
client = "email:*@bigcorp.example"
l1 = "{GRACE}"
l2 = "Second line"
"""
WAIT_S = 20.0


@dataclass
class Desk:
    daemon: DaemonProcess
    smtp_port: int
    sink: SmtpSink
    sessions: sessionmaker[Session]

    def send(self, sender: str, recipient: str, subject: str, body: str) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, recipient, subject
        mail.set_content(body)
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=WAIT_S) as client:
            assert client.sendmail(sender, [recipient], mail.as_bytes(policy=SMTP)) == {}

    def mail_to(self, address: str, subject_part: str) -> Received:
        def found() -> list[Received]:
            return [
                received
                for received in self.sink.received
                if received.rcpt_tos == (address,) and subject_part in received.message["Subject"]
            ]

        return eventually(f"a mail to {address} about {subject_part!r}", found, WAIT_S)[0]


@pytest.fixture
def desk(tmp_path: Path, db_url: str, sessions: sessionmaker[Session]) -> Iterator[Desk]:
    with SmtpSink() as sink:
        commands = [
            ("departments", "add", "Second line"),
            ("users", "add", "Grace Hopper", GRACE),
            ("users", "add", "Alan Turing", ALAN, "--department", "Second line"),
        ]
        with desk_daemon(tmp_path, db_url, sink.port, RULES, commands) as (daemon, smtp_port):
            yield Desk(daemon, smtp_port, sink, sessions)


def test_a_rule_gives_the_ticket_to_l1_and_escalate_hands_it_to_l2_by_mail(desk: Desk):
    desk.send(CLIENT, DESK, "Invoices are wrong", "All of March's invoices are wrong.")

    created = desk.mail_to(GRACE, "New ticket")
    assert not [r for r in desk.sink.received if r.rcpt_tos == (ALAN,)]
    (reply_to,) = created.message["Reply-To"].addresses
    with desk.sessions() as session:
        (ticket,) = session.scalars(select(Ticket))
        assert ticket.status == "open"

    desk.send(GRACE, reply_to.addr_spec, f"Re: {created.message['Subject']}", "#escalate VIP")

    escalated = desk.mail_to(ALAN, "Escalated")
    assert escalated.message["Subject"] == f"[#{ticket.id}] Escalated: Invoices are wrong"
    text = escalated.message.get_body(("plain",)).get_content()
    assert f"Escalated to the second line (Second line) by {GRACE}: VIP" in text

    def moved() -> Ticket | None:
        with desk.sessions() as session:
            found = session.get(Ticket, ticket.id)
            return found if found.custom_fields == {"escalation_level": 2} else None

    assert eventually("the ticket escalated", moved, WAIT_S).status == "waiting_for_agent"
    # The client heard nothing of it.
    assert not [r for r in desk.sink.received if r.rcpt_tos == (CLIENT,)]
