"""Mail goes to the smarthost over connections kept open between rows, through the real
dispatcher and ``EmailSender`` to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mail_desk import DISPATCH, add_agent, mail_dispatcher, open_tickets
from tests.support.smtp_sink import SmtpSink
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import OutboxItem

TICKETS = 20


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session], sink: SmtpSink) -> Dispatcher:
    add_agent(sessions)
    return mail_dispatcher(sessions, sink.port)


def statuses(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem.status)))


def test_rows_share_a_few_kept_connections_across_batches(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    open_tickets(sessions, 0, TICKETS)
    dispatcher.run_batch()
    opened = sink.greetings
    open_tickets(sessions, TICKETS, TICKETS)
    dispatcher.run_batch()

    assert statuses(sessions) == ["sent"] * 2 * TICKETS
    assert len(sink.received) == 2 * TICKETS
    assert 1 <= opened <= DISPATCH.concurrency
    assert sink.greetings == opened, "the second batch opened connections of its own"


def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failed_try(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    open_tickets(sessions, 0, TICKETS)
    dispatcher.run_batch()
    sink.stop()
    sink.start(sink.port)
    open_tickets(sessions, TICKETS, TICKETS)
    dispatcher.run_batch()

    with sessions() as session:
        rows = session.execute(select(OutboxItem.status, OutboxItem.attempts)).all()
    assert {tuple(row) for row in rows} == {("sent", 1)}
    assert len(sink.received) == 2 * TICKETS
