"""Delivery reports: the bounced row fails, a hard-bounced address is suppressed for a while,
a delay changes nothing; and a report is stored on the ticket it is about without waking
anyone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from threadline.core.models import Message, MessageRef, OutboxItem, Suppression, Ticket
from threadline.core.normalized import Bounce, Classification, Inbound

OUR_ID = "tl.t1-abcdefghijklmnop.x@desk.example"


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    desk = desk_pipeline(sessions)
    desk.deliver(email("ada@example.com", "a1@mail", subject="Printer"))
    with sessions.begin() as session:
        session.add(
            OutboxItem(
                idempotency_key="reply:1",
                channel="email",
                kind="reply",
                recipient="ada@example.com",
                ticket_id=1,
                payload={},
                status="sent",
                delivery_status="sent",
                provider_id=OUR_ID,
            )
        )
        # As the dispatcher records what it sent, so that answers to it thread back.
        session.add(MessageRef(channel="email", external_id=OUR_ID, ticket_id=1))
    return desk


def report(*bounces: Bounce, own_id: str = "dsn1@mx") -> Inbound:
    return replace(
        email("mailer-daemon@mx.example.com", own_id, in_reply_to=(OUR_ID,)),
        subject="Undelivered Mail",
        classification=Classification.BOUNCE,
        bounces=bounces,
    )


def test_a_hard_bounce_fails_the_row_and_suppresses_the_address(desk: DeskPipeline):
    outcome = desk.deliver(
        report(Bounce("Ada@Example.com", "5.1.1", OUR_ID, "550 5.1.1 no such user"))
    )
    with desk.sessions() as session:
        assert session.scalar(select(OutboxItem.delivery_status)) == "failed"
        suppression = session.scalars(select(Suppression)).one()
        assert (suppression.channel, suppression.address) == ("email", "ada@example.com")
        assert suppression.until == desk.clock.now + timedelta(days=30)
        assert "5.1.1" in suppression.reason
        bounce = session.get(Message, outcome.message_id)
        assert bounce.ticket_id == 1
        assert session.get(Ticket, 1).status == "open"
        assert (
            session.scalar(select(OutboxItem.id).where(OutboxItem.message_id == bounce.id)) is None
        )


def test_a_later_bounce_extends_the_suppression(desk: DeskPipeline):
    desk.deliver(report(Bounce("ada@example.com", "5.1.1", OUR_ID)))
    desk.clock.advance(days=10)
    desk.deliver(report(Bounce("ada@example.com", "5.2.2", None, "mailbox full"), own_id="dsn2@mx"))
    with desk.sessions() as session:
        suppression = session.scalars(select(Suppression)).one()
        assert suppression.until == desk.clock.now + timedelta(days=30)
        assert "mailbox full" in suppression.reason


def test_a_delay_report_changes_nothing(desk: DeskPipeline):
    desk.deliver(report(Bounce("ada@example.com", "4.4.7", OUR_ID, "delayed")))
    with desk.sessions() as session:
        assert session.scalar(select(OutboxItem.delivery_status)) == "sent"
        assert session.scalars(select(Suppression)).all() == []


def test_suppression_can_be_turned_off(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions, suppress_bounced_for=timedelta(0))
    desk.deliver(report(Bounce("ada@example.com", "5.1.1", None)))
    with desk.sessions() as session:
        assert session.scalars(select(Suppression)).all() == []


def test_nul_characters_are_dropped_rather_than_failing(desk: DeskPipeline):
    outcome = desk.deliver(email("bob@example.com", "b1@mail", subject="A\x00B", body="x\x00y"))
    with desk.sessions() as session:
        message = session.get(Message, outcome.message_id)
        assert message.body == "xy"
        assert session.get(Ticket, message.ticket_id).title == "AB"
