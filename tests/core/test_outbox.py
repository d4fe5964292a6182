"""Enqueueing: in the caller's transaction, once per idempotency key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import conversation, reply
from threadline.core.models import OutboxItem
from threadline.core.outbox import Outgoing, enqueue


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxItem)) or 0


def test_an_enqueued_row_is_pending_and_carries_everything_given(
    sessions: sessionmaker[Session],
):
    ticket = conversation(sessions)
    with sessions.begin() as session:
        row_id = enqueue(session, reply("reply:1:a@b.c", ticket))

    with sessions() as session:
        row = session.get(OutboxItem, row_id)
    assert row is not None
    assert (row.status, row.delivery_status, row.attempts) == ("pending", "queued", 0)
    assert (row.channel, row.kind, row.recipient) == ("test", "reply", "a@b.c")
    assert (row.ticket_id, row.message_id) == (ticket.ticket_id, ticket.message_id)
    assert row.payload == {"body": "answer reply:1:a@b.c"}
    assert row.next_attempt_at is None


def test_a_repeated_idempotency_key_inserts_nothing(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        first = enqueue(session, reply("reply:7:a@b.c"))
        again = enqueue(session, reply("reply:7:a@b.c", recipient="someone@else"))
    with sessions.begin() as session:
        later = enqueue(session, reply("reply:7:a@b.c"))

    assert first is not None
    assert (again, later) == (None, None)
    assert count(sessions) == 1


def test_enqueue_is_part_of_the_callers_transaction(sessions: sessionmaker[Session]):
    with sessions() as session:
        enqueue(session, reply("reply:1:a@b.c"))
        session.rollback()

    assert count(sessions) == 0


def test_keys_longer_than_the_column_stay_stable_and_distinct(sessions: sessionmaker[Session]):
    long_a, long_b = "reply:1:" + "a" * 300, "reply:1:" + "b" * 300
    with sessions.begin() as session:
        assert enqueue(session, reply(long_a)) is not None
        assert enqueue(session, reply(long_b)) is not None
        assert enqueue(session, reply(long_a)) is None

    assert count(sessions) == 2


def test_an_unknown_kind_is_refused_before_it_reaches_the_database():
    with pytest.raises(ValueError, match="unknown outbox kind 'digest'"):
        Outgoing("test", "digest", "a@b.c", {}, "k")  # type: ignore[arg-type]
