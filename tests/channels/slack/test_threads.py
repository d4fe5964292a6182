"""One Slack thread per ticket and purpose, even when two rows race to start it: a row waits
while an earlier one of the same thread is being sent, and joins the thread it started."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.slack.threads import SiblingInFlight, Thread, started_thread
from threadline.core.models import Client, OutboxItem, Ticket
from threadline.core.senders import OutboxView

NOW = datetime(2026, 12, 6, 9, 0)


def feed_row(session: Session, ticket_id: int, **values: object) -> OutboxItem:
    row = OutboxItem(
        idempotency_key=f"feed:{ticket_id}:{values.get('message', 0)}:{datetime.now()}",
        channel="slack",
        kind="feed",
        recipient="C0AGENTS",
        ticket_id=ticket_id,
        payload={},
        **{k: v for k, v in values.items() if k != "message"},
    )
    session.add(row)
    session.flush()
    return row


def view(row: OutboxItem) -> OutboxView:
    return OutboxView(
        row.id, row.channel, row.kind, row.recipient, {}, row.ticket_id, None, 0, NOW, "k"
    )


@pytest.fixture
def ticket_id(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        client = Client(name="Ada")
        session.add(client)
        session.flush()
        ticket = Ticket(title="Printer", client_id=client.id)
        session.add(ticket)
        session.flush()
        return ticket.id


def test_the_first_row_starts_the_thread_the_later_ones_join(
    sessions: sessionmaker[Session], ticket_id: int
):
    with sessions.begin() as session:
        first = feed_row(session, ticket_id, message=1)
        assert started_thread(session, view(first), NOW) is None
        first.status, first.provider_id = "sent", "C0AGENTS:1765000000.000100"
        later = feed_row(session, ticket_id, message=2)
        assert started_thread(session, view(later), NOW) == Thread("C0AGENTS", "1765000000.000100")


def test_a_row_waits_while_an_earlier_one_is_being_sent(
    sessions: sessionmaker[Session], ticket_id: int
):
    with sessions.begin() as session:
        feed_row(
            session,
            ticket_id,
            message=1,
            lease_owner="worker-a",
            lease_expires_at=NOW + timedelta(minutes=2),
        )
        later = feed_row(session, ticket_id, message=2)
        with pytest.raises(SiblingInFlight):
            started_thread(session, view(later), NOW)


def test_an_earlier_row_waiting_for_a_retry_does_not_hold_a_later_one_up(
    sessions: sessionmaker[Session], ticket_id: int
):
    with sessions.begin() as session:
        earlier = feed_row(session, ticket_id, message=1, next_attempt_at=NOW + timedelta(hours=1))
        later = feed_row(session, ticket_id, message=2)
        assert started_thread(session, view(later), NOW) is None
        later.status, later.provider_id = "sent", "C0AGENTS:1765000000.000200"
        # Retried later, the earlier row joins the thread the later one started.
        assert started_thread(session, view(earlier), NOW) == Thread(
            "C0AGENTS", "1765000000.000200"
        )
