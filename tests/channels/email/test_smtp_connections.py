"""Mail goes to the smarthost over connections kept open between rows, through the real
dispatcher and ``EmailSender`` to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from tests.support.smtp_sink import HOST, SmtpSink
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smarthost import EmailSender
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import OutboxItem, User
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

EMAIL = EmailSettings(address="Desk Support <support@desk.example>")
DISPATCH = DispatchSettings(concurrency=4)
TICKETS = 20


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session], sink: SmtpSink) -> Dispatcher:
    desk = desk_pipeline(sessions)
    smarthost = SmarthostSettings(host=HOST, port=sink.port, timeout=5.0)
    senders = SenderRegistry()
    senders.register("email", EmailSender(desk.sessions, desk.signer, EMAIL, smarthost))
    return Dispatcher(desk.sessions, senders, DISPATCH)


@pytest.fixture(autouse=True)
def agent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(User(name="Grace Hopper", email="grace@desk.example", type="agent"))


def open_tickets(sessions: sessionmaker[Session], first: int) -> None:
    """Each new ticket queues a notification to the agent."""
    desk = desk_pipeline(sessions)
    for n in range(first, first + TICKETS):
        desk.deliver(email(f"client{n}@example.com", f"m{n}@mail.example", subject=f"Help {n}"))


def statuses(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem.status)))


def test_rows_share_a_few_kept_connections_across_batches(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    open_tickets(sessions, 0)
    dispatcher.run_batch()
    opened = sink.greetings
    open_tickets(sessions, TICKETS)
    dispatcher.run_batch()

    assert statuses(sessions) == ["sent"] * 2 * TICKETS
    assert len(sink.received) == 2 * TICKETS
    assert 1 <= opened <= DISPATCH.concurrency
    assert sink.greetings == opened, "the second batch opened connections of its own"


def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failed_try(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    open_tickets(sessions, 0)
    dispatcher.run_batch()
    sink.stop()
    sink.start(sink.port)
    open_tickets(sessions, TICKETS)
    dispatcher.run_batch()

    with sessions() as session:
        rows = session.execute(select(OutboxItem.status, OutboxItem.attempts)).all()
    assert {tuple(row) for row in rows} == {("sent", 1)}
    assert len(sink.received) == 2 * TICKETS
