"""Delivery receipts move a sent row's delivery status forward only."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import enqueued, reply
from threadline.core.delivery import advance_delivery_status
from threadline.core.models import OutboxItem


@pytest.fixture
def sent(sessions: sessionmaker[Session]) -> str:
    """The provider id of a row sent and reported ``sent``."""
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    with sessions.begin() as session:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == row_id)
            .values(status="sent", delivery_status="sent", provider_id="SM123")
        )
    return "SM123"


def receipts(sessions: sessionmaker[Session], provider_id: str, *statuses: str) -> list[str]:
    """Each receipt in its own transaction; the delivery status after each."""
    seen = []
    for status in statuses:
        with sessions.begin() as session:
            advance_delivery_status(session, provider_id, status)
        with sessions() as session:
            seen.append(
                session.scalars(
                    select(OutboxItem.delivery_status).where(OutboxItem.provider_id == provider_id)
                ).one()
            )
    return seen


def test_receipts_arriving_out_of_order_never_move_the_status_back(
    sessions: sessionmaker[Session], sent: str
):
    assert receipts(sessions, sent, "delivered", "sent", "queued", "read", "delivered") == [
        "delivered",
        "delivered",
        "delivered",
        "read",
        "read",
    ]


def test_failed_is_terminal(sessions: sessionmaker[Session], sent: str):
    assert receipts(sessions, sent, "failed", "delivered", "read") == ["failed"] * 3


def test_a_late_failure_of_a_delivered_message_is_ignored(
    sessions: sessionmaker[Session], sent: str
):
    assert receipts(sessions, sent, "delivered", "failed") == ["delivered", "delivered"]


def test_the_answer_says_whether_the_receipt_moved_anything(
    sessions: sessionmaker[Session], sent: str
):
    with sessions.begin() as session:
        assert advance_delivery_status(session, sent, "delivered") is True
        assert advance_delivery_status(session, sent, "delivered") is False
        assert advance_delivery_status(session, "SM-not-ours", "read") is False


def test_an_unknown_status_is_refused(sessions: sessionmaker[Session], sent: str):
    with sessions() as session, pytest.raises(ValueError, match="unknown delivery status 'seen'"):
        advance_delivery_status(session, sent, "seen")
