"""A burst of client messages reaches each agent as one delivery per window, listing every
message, while ``notifications`` keeps a row per message; on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from tests.support.outbox import RecordingSender
from threadline.core.admin.users import add_user
from threadline.core.models import Notification, OutboxItem
from threadline.core.settings import NotificationSettings

GRACE, ALAN = "grace@desk.example", "alan@desk.example"


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_user(session, "Grace", GRACE)
        add_user(session, "Alan", ALAN)
    return desk_pipeline(sessions, notifications=NotificationSettings(coalesce_seconds=120))


def test_a_burst_of_five_messages_is_one_delivery_per_agent(desk: DeskPipeline):
    # 10:00:10 to 10:01:30: one window, which ends at 10:02.
    desk.clock.now = desk.clock.now.replace(hour=10, minute=0, second=10)
    desk.deliver(email("ada@example.com", "m0@client", body="Text 0"))
    for number in range(1, 5):
        desk.clock.advance(seconds=20)
        reply = email("ada@example.com", f"m{number}@client", in_reply_to=("m0@client",))
        desk.deliver(replace(reply, reply_text=f"Text {number}"))

    sender = RecordingSender()
    desk.dispatch(sender)
    assert sender.sent == []  # held to the window's end

    desk.clock.now = desk.clock.now.replace(minute=2, second=0)
    desk.dispatch(sender)
    assert sorted(item.recipient for item in sender.sent) == [ALAN, GRACE]
    for item in sender.sent:
        # A new ticket stays news, and the body lists every message in order.
        assert item.payload["type"] == "ticket_created"
        body = item.payload["body"]
        assert [body.index(f"Text {n}") for n in range(5)] == sorted(
            body.index(f"Text {n}") for n in range(5)
        )
        assert "Message 5 of 5" in body
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 10
        statuses = session.scalars(select(OutboxItem.status)).all()
    assert statuses == ["sent"] * 10

    # The next window is a delivery of its own.
    desk.deliver(email("ada@example.com", "m5@client", in_reply_to=("m0@client",)))
    desk.clock.advance(seconds=120)
    desk.dispatch(sender)
    assert len(sender.sent) == 4
    assert {item.payload["type"] for item in sender.sent[2:]} == {"client_replied"}


def test_no_window_delivers_each_message_at_once(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_user(session, "Grace", GRACE)
    desk = desk_pipeline(sessions, notifications=NotificationSettings(coalesce_seconds=0))
    desk.deliver(email("ada@example.com", "m0@client"))
    desk.deliver(email("ada@example.com", "m1@client", in_reply_to=("m0@client",)))
    sender = RecordingSender()
    desk.dispatch(sender)
    assert [item.payload["type"] for item in sender.sent] == ["ticket_created", "client_replied"]
