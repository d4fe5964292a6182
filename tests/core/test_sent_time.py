"""``messages.created_at`` is when a message was sent: the time its channel gives (a mail's
Date) where that is plausible, else when it was accepted; a ticket shows its messages in the
order they were sent, those sent at the same time in the order they arrived."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.admin.tickets import show_ticket
from threadline.core.models import Message, Notification, User
from threadline.core.processor import QueuedItem
from threadline.core.store import SENT_AT_SKEW

NOW = datetime(2026, 3, 2, 9, 0)
"""The desk pipeline's clock."""


def created_at(sessions: sessionmaker[Session]) -> list[datetime]:
    with sessions() as session:
        return list(session.scalars(select(Message.created_at).order_by(Message.id)))


def sent(own_id: str, at: datetime | None, **fields: object):
    return replace(email("ada@example.com", own_id, **fields), sent_at=at)


def test_a_plausible_date_is_when_the_message_was_sent(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions)
    backlog = NOW - timedelta(days=400)

    desk.deliver(sent("old@mail", backlog, subject="From the backlog"))
    desk.deliver(sent("skewed@mail", NOW + SENT_AT_SKEW, subject="A clock a little fast"))

    assert created_at(sessions) == [backlog, NOW + SENT_AT_SKEW]


def test_an_implausible_date_gives_way_to_the_accept_time(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions)

    desk.deliver(sent("future@mail", NOW + timedelta(hours=2), subject="From the future"))
    desk.deliver(sent("epoch@mail", datetime(1970, 1, 1), subject="A clock never set"))
    desk.deliver(sent("none@mail", None, subject="No date at all"))

    assert created_at(sessions) == [NOW, NOW, NOW]


def test_the_accept_time_is_the_items_not_the_processing_time(sessions: sessionmaker[Session]):
    """An item accepted an hour before the processor reached it, with no date of its own."""
    desk = desk_pipeline(sessions)
    accepted = NOW - timedelta(hours=1)
    items = [QueuedItem(1, "email", b"", {}, 1, sent("late@mail", None), accepted)]

    with sessions.begin() as session:
        (outcome,) = desk.pipeline.handle(session, items)

    assert outcome.status == "done"
    assert created_at(sessions) == [accepted]


def test_a_ticket_shows_its_backlog_in_the_order_sent_and_notices_are_dated_now(
    sessions: sessionmaker[Session],
):
    """A backlog drained late and out of order (two mailboxes), and two mails sent in the
    same second: sent order, then arrival order."""
    with sessions.begin() as session:
        session.add(User(name="Grace", email="grace@desk.example", type="agent"))
    desk = desk_pipeline(sessions)
    day = NOW - timedelta(days=2)
    later = day + timedelta(hours=1)
    desk.deliver(sent("b@mail", later, body="second", references=("a@mail",)))
    desk.clock.advance(minutes=10)
    desk.deliver(sent("a@mail", day, body="first"))
    desk.deliver(sent("c@mail", later, body="third", references=("a@mail",)))

    with sessions() as session:
        (ticket_id,) = set(session.scalars(select(Message.ticket_id)))
        ticket = show_ticket(session, ticket_id)
        noticed = list(session.scalars(select(Notification.created_at).order_by(Notification.id)))

    assert [message.body for message in ticket.messages] == ["first", "second", "third"]
    assert noticed == [NOW, NOW + timedelta(minutes=10), NOW + timedelta(minutes=10)]
