"""The whole email desk as an operator runs it: ``threadline run`` as a process, a customer's
mailbox on the suite's Dovecot, the SMTP listener taking the agents' replies, and an aiosmtpd
sink as the smarthost. Nothing of ours is called in-process: mail goes in over IMAP and SMTP,
mail comes out at the sink, and the database is only read, to see where each message landed.

One conversation runs start to finish, because each step answers a mail the step before sent:
customer mail -> agent notification -> agent reply from the mail client -> reply at the
customer -> out-of-office answer (stored, nothing sent, no status change) -> customer reply ->
agent notified again. The other tests pin that a From: naming an agent is not enough to speak
as that agent: the mail opens a client's ticket of its own, or with ``park`` waits for an
operator.
"""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import THREADLINE, DaemonProcess, eventually, free_port, write_config
from tests.support.desk_process import run_threadline
from tests.support.dovecot import PASSWORD, Account
from tests.support.imap import mailbox_toml
from tests.support.smtp_sink import Received, SmtpSink
from threadline.core.models import (
    ClientExternalId,
    InboundItem,
    Message,
    Notification,
    OutboxItem,
    Ticket,
    User,
)
from threadline.core.tokens import ReplyToken, TokenSigner

DESK = "support@desk.example"
DOMAIN = "desk.example"
TOKEN_SECRET = "end-to-end-token-secret"
"""Configured rather than generated, so the test can verify the tokens the desk signs."""
CUSTOMER = "ada@customer.example"
AGENTS = {"grace@staff.example": "Grace Hopper", "alan@staff.example": "Alan Turing"}
GRACE = "grace@staff.example"
WAIT_S = 10.0
"""Every wait is bounded: mail moves in about a second here (IDLE, listener and processor
wake-ups); ten seconds is slack for a loaded machine."""
QUIET_S = 2.0
"""How long "nothing is sent" is watched for: the dispatcher is woken right after the batch
that would have queued something, so a mail would show up well within this."""
QUOTE = (
    "On Mon, 2 Mar 2026 at 09:05, Support <support@desk.example> wrote:\n"
    "> ##- Please type your reply above this line -##\n"
    ">\n"
    "> Earlier text that must not be stored again.\n"
)
"""What a mail client puts below a reply: the attribution line and the quoted mail."""

LOG_TAIL = 20_000


@dataclass
class Desk:
    """The running desk and what a test needs to talk to it and look into it."""

    daemon: DaemonProcess
    smtp_port: int
    """The daemon's SMTP listener."""
    sink: SmtpSink
    """The smarthost: every mail the desk sends arrives here."""
    mailbox: Account
    """The support mailbox on Dovecot the daemon polls."""
    sessions: sessionmaker[Session]
    signer: TokenSigner
    agents: dict[str, int]
    """Agent address -> user id."""

    def deliver(self, mail_from: str, rcpt_to: str, raw: bytes) -> None:
        """As the agent's or the customer's mail server hands a mail to the listener."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=WAIT_S) as client:
            assert client.sendmail(mail_from, [rcpt_to], raw) == {}

    def mails_after(self, seen: int, count: int) -> list[Received]:
        """The ``count`` mails the sink takes after the first ``seen``."""
        eventually(
            f"{count} more mail(s) at the sink", lambda: len(self.sink.received) >= seen + count
        )
        return list(self.sink.received[seen:])

    def ticket_messages(self, ticket_id: int) -> list[Message]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)
                )
            )

    def ticket_status(self, ticket_id: int) -> str:
        with self.sessions() as session:
            return session.scalars(select(Ticket.status).where(Ticket.id == ticket_id)).one()

    def ticket_ids(self) -> list[int]:
        with self.sessions() as session:
            return list(session.scalars(select(Ticket.id).order_by(Ticket.id)))

    def outbox_rows(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxItem)) or 0

    def newest_item_settled(self) -> str | None:
        """The status of the newest inbound item once the processor is done with it."""
        with self.sessions() as session:
            status = session.scalar(select(InboundItem.status).order_by(InboundItem.id.desc()))
        return status if status not in (None, "pending") else None

    def problems_logged(self) -> list[dict[str, object]]:
        return [
            line for line in self.daemon.log_lines() if line.get("level") in {"error", "critical"}
        ]


def mail(body: str, **headers: str) -> bytes:
    """A mail as a mail client writes it; header names from keywords (``in_reply_to`` is
    In-Reply-To, ``message_id`` Message-ID)."""
    names = {"message_id": "Message-ID", "in_reply_to": "In-Reply-To"}
    lines = [
        f"{names.get(key, key.rstrip('_').replace('_', '-').title())}: {value}"
        for key, value in {"date": "Mon, 02 Mar 2026 09:00:00 +0000", **headers}.items()
    ]
    return ("\r\n".join([*lines, "", *body.splitlines()]) + "\r\n").encode()


def reply_address(received: Received) -> tuple[str, str]:
    """The Reply-To of a mail from the desk: (address, the token in its local part)."""
    (address,) = received.message["Reply-To"].addresses
    local, _plus, token = address.username.partition("+")
    assert (local, address.domain) == ("support", DOMAIN), address
    return address.addr_spec, token


def text_of(received: Received) -> str:
    part = received.message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


@pytest.fixture
def desk_env() -> dict[str, str]:
    """Settings a test gives the daemon on top of the desk's (parametrize to override)."""
    return {}


@pytest.fixture
def desk(
    tmp_path: Path,
    db_url: str,
    sessions: sessionmaker[Session],
    account: Account,
    desk_env: dict[str, str],
) -> Iterator[Desk]:
    """The daemon on the test's database with a mailbox, a listener and a smarthost of its own,
    and two agents added the way an operator adds them: with ``threadline users add``."""
    password = tmp_path / "imap-password"
    password.write_text(PASSWORD)
    with SmtpSink() as sink:
        http_port, smtp_port = free_port(), free_port()
        config = write_config(tmp_path / "config.toml", db_url, http_port)
        config.write_text(
            config.read_text()
            + f'\n[email]\naddress = "{DESK}"\ndomains = ["{DOMAIN}"]\n'
            + f'\n[smarthost]\nhost = "127.0.0.1"\nport = {sink.port}\ntimeout = 10\n'
            + f'\n[threading]\ntoken_secret = "{TOKEN_SECRET}"\n'
            + mailbox_toml(account, password)
        )
        for address, name in AGENTS.items():
            added = subprocess.run(
                [str(THREADLINE), "users", "add", name, address, "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert added.returncode == 0, added.stderr
        with sessions() as session:
            agents = dict(session.execute(select(User.email, User.id)).all())
        # write_config has an [smtp] table already; the environment wins over it.
        env = {"THREADLINE_SMTP__LISTEN": f"127.0.0.1:{smtp_port}", **desk_env}
        daemon = DaemonProcess(config, http_port, tmp_path, env)
        try:
            daemon.wait_until_serving()
            daemon.wait_for_log("imap mailbox connected", timeout=WAIT_S)
            yield Desk(
                daemon, smtp_port, sink, account, sessions, TokenSigner(TOKEN_SECRET), agents
            )
        finally:
            daemon.kill()
            # Shown by pytest when the test fails: where a mail stopped.
            print(f"daemon log:\n{daemon.stdout[-LOG_TAIL:]}{daemon.stderr[-LOG_TAIL:]}")


def test_a_conversation_by_mail_threads_every_turn_into_one_ticket(desk: Desk) -> None:
    # 1. The customer writes; the mail lands in the support mailbox and opens a ticket.
    question_id = "printer-1@customer.example"
    desk.mailbox.append(
        mail(
            "The printer on floor 2 is on fire.\nWhat should I do?",
            from_=f"Ada Lovelace <{CUSTOMER}>",
            to=DESK,
            subject="Printer on fire",
            message_id=f"<{question_id}>",
        )
    )
    (ticket,) = eventually("a ticket from the mailbox", desk.ticket_ids)
    assert desk.ticket_status(ticket) == "open"

    # 2. Every agent is notified by mail, each with a Reply-To that speaks as them alone.
    notifications = {n.rcpt_tos: n for n in desk.mails_after(0, len(AGENTS))}
    assert set(notifications) == {(address,) for address in AGENTS}
    for address, agent_id in desk.agents.items():
        notification = notifications[(address,)].message
        assert notification["To"].addresses[0].addr_spec == address
        _address, token = reply_address(notifications[(address,)])
        assert desk.signer.verify(token) == ReplyToken(ticket, agent_id)
        assert notification["Auto-Submitted"] == "auto-generated"
        assert notification["X-Auto-Response-Suppress"] == "All"
        assert notification["X-Threadline-Loop"] == DESK
        assert notification["Subject"] == f"[#{ticket}] New ticket: Printer on fire"
        assert "The printer on floor 2 is on fire." in text_of(notifications[(address,)])
    grace_notification = notifications[(GRACE,)]
    grace_reply_to, _token = reply_address(grace_notification)

    # 3. Grace answers from her mail client: to the Reply-To, quoting the notification.
    desk.deliver(
        GRACE,
        grace_reply_to,
        mail(
            "Please pull the plug first, then use the extinguisher by the door.\n\n" + QUOTE,
            from_=f"Grace Hopper <{GRACE}>",
            to=grace_reply_to,
            subject=f"Re: {grace_notification.message['Subject']}",
            message_id="<grace-1@staff.example>",
            in_reply_to=grace_notification.message["Message-ID"],
            references=grace_notification.message["Message-ID"],
        ),
    )
    answer = "Please pull the plug first, then use the extinguisher by the door."
    agent_message = eventually(
        "Grace's message on the ticket",
        lambda: [m for m in desk.ticket_messages(ticket) if m.user_id is not None],
    )
    assert [(m.user_id, m.client_id, m.body, m.is_internal) for m in agent_message] == [
        (desk.agents[GRACE], None, answer, False)
    ]
    (reply,) = desk.mails_after(len(AGENTS), 1)
    assert reply.rcpt_tos == (CUSTOMER,)
    headers = reply.message
    assert headers["To"].addresses[0].addr_spec == CUSTOMER
    assert headers["In-Reply-To"] == f"<{question_id}>"
    assert f"<{question_id}>" in headers["References"].split()
    _address, token = reply_address(reply)
    assert desk.signer.verify(token) == ReplyToken(ticket)
    embedded = re.fullmatch(rf"<tl\.([^.]+)\.[a-z2-7]+@{re.escape(DOMAIN)}>", headers["Message-ID"])
    assert embedded is not None, headers["Message-ID"]
    assert desk.signer.verify(embedded[1]) == ReplyToken(ticket)
    assert headers["Subject"] == f"Re: [#{ticket}] Printer on fire"
    assert "Auto-Submitted" not in headers
    assert answer in text_of(reply)
    assert "Earlier text" not in text_of(reply)
    for agent_id in desk.agents.values():
        # An agent's token in the customer's hands would let the customer speak as the agent.
        assert desk.signer.sign(ReplyToken(ticket, agent_id)) not in reply.data.decode()
    assert desk.ticket_status(ticket) == "waiting_for_user"

    # 4. The customer's out-of-office answers the reply: stored, but nothing goes out (no mail
    # to an auto-responder, no agent woken for it) and the ticket stays with the customer.
    outbox_before, mails_before = desk.outbox_rows(), len(desk.sink.received)
    desk.deliver(
        CUSTOMER,
        DESK,
        mail(
            "I am out of the office until Monday.",
            from_=f"Ada Lovelace <{CUSTOMER}>",
            to=DESK,
            subject="Out of office",
            message_id="<away-1@customer.example>",
            in_reply_to=headers["Message-ID"],
            auto_submitted="auto-replied",
        ),
    )
    assert eventually("the out-of-office handled", desk.newest_item_settled) == "done"
    stored = desk.ticket_messages(ticket)[-1]
    assert (stored.body, stored.user_id, stored.channel) == (
        "I am out of the office until Monday.",
        None,
        "email",
    )
    assert stored.client_id is not None
    assert desk.ticket_status(ticket) == "waiting_for_user"
    assert desk.outbox_rows() == outbox_before
    time.sleep(QUIET_S)
    assert len(desk.sink.received) == mails_before
    assert desk.outbox_rows() == outbox_before

    # 5. The customer's real reply arrives through the mailbox: same ticket, the agents' turn,
    # and each agent is told by mail.
    desk.mailbox.append(
        mail(
            "Done, the fire is out. Thank you!\n\n" + QUOTE,
            from_=f"Ada Lovelace <{CUSTOMER}>",
            to=DESK,
            subject=f"Re: [#{ticket}] Printer on fire",
            message_id="<printer-2@customer.example>",
            in_reply_to=headers["Message-ID"],
            references=f"<{question_id}> {headers['Message-ID']}",
        )
    )
    eventually(
        "the customer's reply on the ticket",
        lambda: desk.ticket_messages(ticket)[-1].body == "Done, the fire is out. Thank you!",
    )
    assert desk.ticket_ids() == [ticket]
    assert desk.ticket_messages(ticket)[-1].client_id == stored.client_id
    assert desk.ticket_status(ticket) == "waiting_for_agent"
    replied = {n.rcpt_tos: n.message for n in desk.mails_after(mails_before, len(AGENTS))}
    assert set(replied) == {(address,) for address in AGENTS}
    for address in AGENTS:
        assert replied[(address,)]["Subject"] == (
            f"[#{ticket}] Ada Lovelace replied: Printer on fire"
        )
        assert replied[(address,)]["In-Reply-To"] == "<printer-2@customer.example>"
    with desk.sessions() as session:
        kinds = session.execute(
            select(Notification.user_id, Notification.type).where(Notification.ticket_id == ticket)
        ).all()
    assert sorted(kinds) == sorted(
        [(agent_id, "ticket_created") for agent_id in desk.agents.values()]
        + [(agent_id, "client_replied") for agent_id in desk.agents.values()]
    )
    assert desk.problems_logged() == []
    assert desk.daemon.stop() == 0


def test_mail_that_only_claims_an_agents_address_is_a_client_message_on_a_new_ticket(
    desk: Desk,
) -> None:
    """``identity.unverified_agent = "client"``, the default: without the reply token issued to
    the agent, their From: counts for nothing. The mail answers a notification of the ticket
    (whose Message-ID carries the ticket's token), quotes its tag and starts with a command: as
    the agent's it would close that ticket, as a client's reply it would reach its thread."""
    desk.deliver(
        CUSTOMER,
        DESK,
        mail(
            "The printer on floor 2 is on fire.",
            from_=f"Ada Lovelace <{CUSTOMER}>",
            to=DESK,
            subject="Printer on fire",
            message_id="<printer-1@customer.example>",
        ),
    )
    (ticket,) = eventually("the customer's ticket", desk.ticket_ids)
    notified = desk.mails_after(0, len(AGENTS))
    notification_id = notified[0].message["Message-ID"]

    desk.deliver(
        GRACE,
        DESK,
        mail(
            "#close\nSorted, closing this.",
            from_=f"Grace Hopper <{GRACE}>",
            to=DESK,
            subject=f"Re: [#{ticket}] Printer on fire",
            message_id="<forged-1@elsewhere.example>",
            in_reply_to=notification_id,
            references=f"<printer-1@customer.example> {notification_id}",
        ),
    )
    tickets = eventually("a second ticket", lambda: (ids := desk.ticket_ids())[1:] and ids)
    assert tickets[0] == ticket
    assert len(tickets) == 2
    (message,) = desk.ticket_messages(tickets[1])
    assert (message.user_id, message.body) == (None, "#close\nSorted, closing this.")
    with desk.sessions() as session:
        owner = session.scalar(
            select(ClientExternalId.client_id).where(
                ClientExternalId.type == "email", ClientExternalId.value == GRACE
            )
        )
    assert owner is not None
    assert message.client_id == owner
    assert [m.body for m in desk.ticket_messages(ticket)] == ["The printer on floor 2 is on fire."]
    assert desk.ticket_status(ticket) == "open"
    # Nothing goes to the customer: the agents are told of a new ticket, as for any client.
    created = desk.mails_after(len(notified), len(AGENTS))
    assert {mail.rcpt_tos for mail in created} == {(address,) for address in AGENTS}
    assert all(m.message["Subject"].startswith(f"[#{tickets[1]}] New ticket") for m in created)
    with desk.sessions() as session:
        kinds = set(session.scalars(select(OutboxItem.kind)))
    assert kinds == {"notification"}
    assert desk.problems_logged() == []


@pytest.mark.parametrize("desk_env", [{"THREADLINE_IDENTITY__UNVERIFIED_AGENT": "park"}])
def test_with_unverified_agent_park_mail_claiming_an_agent_is_parked(desk: Desk) -> None:
    """``identity.unverified_agent = "park"``: the mail waits for an operator (``threadline
    inbound list --parked``) instead of opening a ticket, and nobody is told of it."""
    desk.deliver(
        GRACE,
        DESK,
        mail(
            "Sorted, closing this.",
            from_=f"Grace Hopper <{GRACE}>",
            to=DESK,
            subject="Printer on fire",
            message_id="<forged-1@elsewhere.example>",
        ),
    )
    assert eventually("the mail handled", desk.newest_item_settled) == "parked"
    with desk.sessions() as session:
        error = session.scalar(select(InboundItem.last_error))
    assert error is not None
    assert GRACE in error
    assert desk.ticket_ids() == []
    assert desk.outbox_rows() == 0


PE_HEADER = b"MZ" + b"\x00" * 58 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 64


def test_an_executable_is_kept_but_forwarded_to_no_agent_until_released(
    desk: Desk, tmp_path: Path
) -> None:
    sent = EmailMessage()
    sent["From"], sent["To"], sent["Subject"] = CUSTOMER, DESK, "Invoice attached"
    sent["Message-ID"] = "<invoice-1@customer.example>"
    sent.set_content("Please find the invoice attached.")
    sent.add_attachment(b"%PDF-1.4 a real one", "application", "pdf", filename="invoice.pdf")
    sent.add_attachment(PE_HEADER, "application", "pdf", filename="scan.pdf")
    sent.add_attachment(b"echo hi", "application", "octet-stream", filename="run.bat")
    desk.deliver(CUSTOMER, DESK, sent.as_bytes(policy=SMTP))

    notified = desk.mails_after(0, len(AGENTS))
    for received in notified:
        names = [part.get_filename() for part in received.message.iter_attachments()]
        assert names == ["invoice.pdf"]
    (ticket,) = desk.ticket_ids()
    note = desk.ticket_messages(ticket)[-1]
    assert (note.is_system_message, note.is_internal) == (True, True)
    assert "scan.pdf: its content is application/x-msdownload, a blocked type" in note.body
    assert "run.bat: its extension .bat is blocked" in note.body

    config = desk.daemon.config
    listed = run_threadline(config, "attachments", "list", "--format", "json")
    held = {file["filename"]: file["id"] for file in json.loads(listed)}
    assert sorted(held) == ["run.bat", "scan.pdf"]
    saved = tmp_path / "scan.pdf"
    run_threadline(config, "attachments", "release", str(held["scan.pdf"]), "--save", str(saved))
    assert saved.read_bytes() == PE_HEADER
    assert (
        desk.ticket_messages(ticket)[-1].body
        == "Released from quarantine by an operator: scan.pdf."
    )
