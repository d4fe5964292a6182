"""A reply or acknowledgement refused for good leaves an internal note on its ticket and tells
its agents; a notification refused for good tells nobody (that could fail alike, and again);
through the real dispatcher, on both databases."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from tests.support.outbox import RecordingSender
from threadline.core.admin.users import add_user
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import Message, Notification, OutboxItem
from threadline.core.outbox import Kind, Outgoing, enqueue
from threadline.core.senders import PermanentSendError, SenderRegistry
from threadline.core.settings import DispatchSettings, NotificationSettings
from threadline.core.undelivered import Undelivered
from threadline.daemon import channels


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_user(session, "Grace Hopper", "grace@desk.example", "agent")
    return desk_pipeline(sessions)


def refused(desk: DeskPipeline, kind: Kind) -> tuple[int, str]:
    """A row of ``kind`` on a new ticket, refused for good; the ticket and the refusal."""
    outcome = desk.deliver(email("ada@example.com", "m1@mail.example", subject="Printer"))
    with desk.sessions.begin() as session:
        ticket_id = session.scalars(
            select(Message.ticket_id).where(Message.id == outcome.message_id)
        ).one()
        session.execute(OutboxItem.__table__.delete())
        enqueue(
            session,
            Outgoing(
                "email",
                kind,
                "ada@example.com",
                {"body": "Got it."},
                f"{kind}:1",
                ticket_id,
            ),
        )
    sender = RecordingSender()
    sender.fail_next(PermanentSendError("550 5.1.1 no such user"))
    senders = SenderRegistry()
    senders.register("email", sender)
    undelivered = Undelivered(NotificationSettings(coalesce_seconds=0), channels.traits())
    dispatcher = Dispatcher(
        desk.sessions,
        senders,
        DispatchSettings(),
        desk.clock,
        "worker",
        random.Random(7),
        undelivered=undelivered,
    )
    dispatcher.run_batch()
    return ticket_id, "550 5.1.1 no such user"


def notes_and_notices(desk: DeskPipeline, ticket_id: int) -> tuple[list[str], list[str]]:
    with desk.sessions() as session:
        notes = session.scalars(
            select(Message.body).where(Message.ticket_id == ticket_id, Message.is_internal)
        ).all()
        told = session.scalars(
            select(Notification.type).where(Notification.type == "delivery_failed")
        ).all()
    return list(notes), list(told)


def test_a_failed_acknowledgement_is_noted_and_the_agents_told(desk: DeskPipeline):
    ticket_id, reason = refused(desk, "acknowledgement")

    notes, told = notes_and_notices(desk, ticket_id)
    assert notes == [
        f"The acknowledgement of the client's message was not delivered on email: {reason}"
    ]
    assert told == ["delivery_failed"]


def test_a_failed_notification_tells_nobody(desk: DeskPipeline):
    ticket_id, _reason = refused(desk, "notification")

    assert notes_and_notices(desk, ticket_id) == ([], [])
