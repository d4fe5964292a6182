"""Outbox rows of the email channel through the real dispatcher and ``EmailSender`` to a real
SMTP server on 127.0.0.1: what arrives, what is recorded, and what a refusal does to the row."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from tests.support.ports import free_port
from tests.support.smtp_sink import HOST, SmtpSink, TlsFiles, self_signed_certificate
from threadline.channels.email.marker import LOOP_HEADER, REPLY_MARKER
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smarthost import EmailSender
from threadline.channels.email.thread_ids import our_tokens
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import Message, MessageRef, OutboxItem, Suppression, User
from threadline.core.models.base import now_utc
from threadline.core.normalized import InboundAttachment
from threadline.core.outbox import Outgoing, enqueue
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings
from threadline.core.tokens import ReplyToken

AGENT = "grace@desk.example"
CLIENT = "ada@example.com"
CLIENT_MAIL_ID = "root@mail.example"
EMAIL = EmailSettings(address="Desk Support <support@desk.example>")
DISPATCH = DispatchSettings(max_attempts=4, retry_initial=30.0, retry_maximum=3600.0)
LOGIN = ("desk", "s3cret")
PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
"""aiosmtpd warns about what these tests mean to do: AUTH over a plain connection."""


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    desk = desk_pipeline(sessions)
    with sessions.begin() as session:
        session.add(User(name="Grace Hopper", email=AGENT, type="agent"))
    return desk


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TlsFiles:
    """A certificate the sender trusts the way an operator's private CA would be trusted."""
    files = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(files.certificate))
    return files


def dispatch(desk: DeskPipeline, port: int, **smarthost: object) -> int:
    """One batch of the real dispatcher with the email sender pointed at ``port``."""
    settings = SmarthostSettings(host=HOST, port=port, timeout=5.0, **smarthost)
    senders = SenderRegistry()
    senders.register("email", EmailSender(desk.sessions, desk.signer, EMAIL, settings))
    return Dispatcher(desk.sessions, senders, DISPATCH).run_batch()


def open_ticket(desk: DeskPipeline, *attachments: InboundAttachment) -> Message:
    inbound = email(CLIENT, CLIENT_MAIL_ID, subject="Printer on fire", body="It is on fire.")
    outcome = desk.deliver(replace(inbound, attachments=attachments))
    with desk.sessions() as session:
        message = session.get(Message, outcome.message_id)
    assert message is not None
    return message


def rows(desk: DeskPipeline, **where: object) -> list[OutboxItem]:
    with desk.sessions() as session:
        return list(session.scalars(select(OutboxItem).filter_by(**where).order_by(OutboxItem.id)))


def reply_token(desk: DeskPipeline, mail: EmailMessage) -> ReplyToken | None:
    return desk.signer.verify(mail["Reply-To"].addresses[0].username.split("+", 1)[1])


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return "\n".join(part.get_content().splitlines())


def test_a_notification_reaches_the_agent_and_its_id_becomes_a_ref_of_the_ticket(
    desk: DeskPipeline, sink: SmtpSink
):
    message = open_ticket(desk)

    assert dispatch(desk, sink.port) == 1

    (received,) = sink.received
    assert (received.mail_from, received.rcpt_tos) == ("support@desk.example", (AGENT,))
    mail = received.message
    assert mail["To"] == f"Grace Hopper <{AGENT}>"
    assert mail["From"] == "Desk Support <support@desk.example>"
    assert mail["Subject"] == f"[#{message.ticket_id}] New ticket: Printer on fire"
    assert mail["In-Reply-To"] == f"<{CLIENT_MAIL_ID}>"
    assert (mail["Auto-Submitted"], mail[LOOP_HEADER]) == ("auto-generated", "support@desk.example")
    (agent_id,) = (row.payload["agent_id"] for row in rows(desk))
    assert reply_token(desk, mail) == ReplyToken(message.ticket_id, agent_id)
    assert "It is on fire." in text_of(mail)
    (row,) = rows(desk)
    assert (row.status, row.provider_id) == ("sent", mail["Message-ID"].strip("<>"))
    with desk.sessions() as session:
        ref = session.scalars(select(MessageRef).filter_by(external_id=row.provider_id)).one()
    assert (ref.channel, ref.ticket_id, ref.message_id) == ("email", message.ticket_id, message.id)


def test_an_agents_answer_to_the_notification_reaches_the_client_threaded(
    desk: DeskPipeline, sink: SmtpSink
):
    message = open_ticket(desk)
    dispatch(desk, sink.port)
    notification = sink.received[0].message
    token = notification["Reply-To"].addresses[0].username.split("+", 1)[1]
    desk.deliver(
        email(
            AGENT,
            "agent-1@desk.example",
            body="Have you tried water?",
            reply_token=token,
            in_reply_to=(notification["Message-ID"].strip("<>"),),
        )
    )

    assert dispatch(desk, sink.port) == 1

    received = sink.received[1]
    assert received.rcpt_tos == (CLIENT,)
    mail = received.message
    assert mail["Subject"] == f"Re: [#{message.ticket_id}] Printer on fire"
    assert mail["In-Reply-To"] == f"<{CLIENT_MAIL_ID}>"
    assert mail["References"].split()[-1] == f"<{CLIENT_MAIL_ID}>"
    assert reply_token(desk, mail) == ReplyToken(message.ticket_id)
    assert mail["Auto-Submitted"] is None
    assert text_of(mail).startswith(f"{REPLY_MARKER}\n\nHave you tried water?")
    (reply,) = rows(desk, kind="reply")
    assert (reply.status, reply.provider_id) == ("sent", mail["Message-ID"].strip("<>"))


def test_a_clients_answer_threads_back_by_our_message_id_even_when_its_ref_is_lost(
    desk: DeskPipeline, sink: SmtpSink
):
    message = open_ticket(desk)
    dispatch(desk, sink.port)
    ours = sink.received[0].message["Message-ID"].strip("<>")
    with desk.sessions.begin() as session:
        session.execute(delete(MessageRef).where(MessageRef.external_id == ours))

    # The tokens the email parser finds in the ids the answer references.
    tokens = our_tokens((ours,))
    outcome = desk.deliver(
        email(CLIENT, "answer@mail.example", in_reply_to=(ours,), referenced_tokens=tokens)
    )

    with desk.sessions() as session:
        answer = session.get(Message, outcome.message_id)
    assert answer is not None
    assert answer.ticket_id == message.ticket_id


def test_the_messages_attachments_go_out_with_it(desk: DeskPipeline, sink: SmtpSink):
    open_ticket(desk, InboundAttachment("photo.jpg", "image/jpeg", b"\xff\xd8 smoke"))

    dispatch(desk, sink.port)

    (attachment,) = sink.received[0].message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type()) == (
        "photo.jpg",
        "image/jpeg",
    )
    assert attachment.get_payload(decode=True) == b"\xff\xd8 smoke"


def test_a_recipient_refused_with_550_is_dead(desk: DeskPipeline, sink: SmtpSink):
    sink.replies[AGENT] = "550 5.1.1 <grace@desk.example>: no such user"
    open_ticket(desk)

    dispatch(desk, sink.port)

    (row,) = rows(desk)
    assert row.status == "parked"
    assert row.last_error is not None
    assert row.last_error.startswith("550 5.1.1 <grace@desk.example>: no such user")
    assert sink.received == []


def test_a_recipient_deferred_with_451_is_retried_later(desk: DeskPipeline, sink: SmtpSink):
    sink.replies[AGENT] = "451 4.3.0 try again later"
    open_ticket(desk)

    dispatch(desk, sink.port)

    (row,) = rows(desk)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert row.last_error.startswith("451 4.3.0 try again later")
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > now_utc()
    sink.replies.clear()
    with desk.sessions.begin() as session:
        session.execute(update(OutboxItem).values(next_attempt_at=None))
    dispatch(desk, sink.port)
    assert rows(desk)[0].status == "sent"
    assert len(sink.received) == 1


def test_data_refused_with_554_is_dead(desk: DeskPipeline, sink: SmtpSink):
    sink.data_reply = "554 5.6.0 message content rejected"
    open_ticket(desk)

    dispatch(desk, sink.port)

    (row,) = rows(desk)
    assert row.status == "parked"
    assert row.last_error is not None
    assert row.last_error.startswith("554 5.6.0 message content rejected")


def test_an_unreachable_smarthost_is_retried(desk: DeskPipeline):
    open_ticket(desk)
    port = free_port()

    dispatch(desk, port)

    (row,) = rows(desk)
    assert row.status == "pending"
    assert row.last_error is not None
    assert f"smarthost {HOST}:{port}" in row.last_error
    assert "ConnectionRefusedError" in row.last_error


def test_starttls_and_login_are_used_when_configured(desk: DeskPipeline, tls: TlsFiles):
    open_ticket(desk)
    with SmtpSink(tls=tls, login=LOGIN) as sink:
        dispatch(desk, sink.port, security="starttls", username=LOGIN[0], password=LOGIN[1])

    (received,) = sink.received
    assert (received.tls, received.login) == (True, "desk")
    assert rows(desk)[0].status == "sent"


def test_implicit_tls_is_used_when_configured(desk: DeskPipeline, tls: TlsFiles):
    open_ticket(desk)
    with SmtpSink(tls=tls, implicit_tls=True) as sink:
        dispatch(desk, sink.port, security="ssl")

    assert len(sink.received) == 1
    assert rows(desk)[0].status == "sent"


@PLAIN_AUTH
def test_a_login_without_tls_works_where_the_smarthost_allows_it(desk: DeskPipeline):
    open_ticket(desk)
    with SmtpSink(login=LOGIN) as sink:
        dispatch(desk, sink.port, username=LOGIN[0], password=LOGIN[1])

    assert [received.login for received in sink.received] == ["desk"]


@PLAIN_AUTH
def test_a_refused_login_keeps_the_row_for_when_the_operator_fixed_it(desk: DeskPipeline):
    open_ticket(desk)
    with SmtpSink(login=LOGIN) as sink:
        dispatch(desk, sink.port, username=LOGIN[0], password="wrong")

    (row,) = rows(desk)
    assert row.status == "pending"
    assert row.last_error is not None
    assert "535" in row.last_error
    assert "smarthost.password" in row.last_error
    assert sink.received == []


def test_an_untrusted_certificate_is_not_sent_to(desk: DeskPipeline, tmp_path: Path):
    open_ticket(desk)
    with SmtpSink(tls=self_signed_certificate(tmp_path)) as sink:
        dispatch(desk, sink.port, security="starttls")

    (row,) = rows(desk)
    assert row.status == "pending"
    assert row.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
    assert sink.received == []


def test_a_private_ca_is_trusted_through_tls_ca_file(desk: DeskPipeline, tmp_path: Path):
    open_ticket(desk)
    files = self_signed_certificate(tmp_path)
    with SmtpSink(tls=files, implicit_tls=True) as sink:
        dispatch(desk, sink.port, security="ssl", tls_ca_file=str(files.certificate))

    assert len(sink.received) == 1
    assert rows(desk)[0].status == "sent"


def test_a_suppressed_address_is_dead_without_connecting(desk: DeskPipeline):
    with desk.sessions.begin() as session:
        session.add(
            Suppression(
                channel="email",
                address=AGENT,
                reason="550 5.1.1",
                until=now_utc() + timedelta(days=30),
            )
        )
    open_ticket(desk)

    dispatch(desk, free_port())  # nothing listens: a connection attempt would be transient

    (row,) = rows(desk)
    assert row.status == "parked"
    assert row.last_error is not None
    assert row.last_error.startswith(f"suppressed: {AGENT}")


def test_an_expired_suppression_no_longer_holds_mail_back(desk: DeskPipeline, sink: SmtpSink):
    with desk.sessions.begin() as session:
        session.add(
            Suppression(
                channel="email", address=AGENT, reason="550", until=now_utc() - timedelta(hours=1)
            )
        )
    open_ticket(desk)

    dispatch(desk, sink.port)

    assert rows(desk)[0].status == "sent"


def test_a_stored_recipient_with_a_line_break_is_dead_and_nothing_is_sent(
    desk: DeskPipeline, sink: SmtpSink
):
    message = open_ticket(desk)
    with desk.sessions.begin() as session:
        session.execute(delete(OutboxItem))
        enqueue(
            session,
            Outgoing(
                channel="email",
                kind="reply",
                recipient=f"{CLIENT}\r\nBcc: victim@example.com",
                payload={"body": "Hello"},
                idempotency_key="reply:hostile",
                ticket_id=message.ticket_id,
                message_id=message.id,
            ),
        )

    dispatch(desk, sink.port)

    (row,) = rows(desk)
    assert row.status == "parked"
    assert row.last_error is not None
    assert "control characters" in row.last_error
    assert sink.received == []
