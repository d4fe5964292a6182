"""The dispatcher's run until idle: the next batch claimed while one is sent, and sent after it."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import FakeClock, RecordingSender, conversation, enqueued, reply
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import OutboxItem
from threadline.core.senders import OutboxView, SenderRegistry
from threadline.core.settings import DispatchSettings

PAIRS = DispatchSettings(batch_size=2, lease=120.0)
WAIT_S = 10


def dispatcher(sessions: sessionmaker[Session], sender: RecordingSender) -> Dispatcher:
    senders = SenderRegistry()
    senders.register("test", sender)
    return Dispatcher(sessions, senders, PAIRS, FakeClock(), "worker-a", random.Random(7))


def leased(sessions: sessionmaker[Session]) -> dict[int, str | None]:
    with sessions() as session:
        return dict(session.execute(select(OutboxItem.id, OutboxItem.lease_owner)).all())


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_the_next_batch_is_claimed_while_one_is_sent_and_its_rows_go_after_it(
    sessions: sessionmaker[Session],
):
    ticket = conversation(sessions)
    first, other, later, last = enqueued(
        sessions,
        reply("reply:1:a@b.c", ticket),
        reply("reply:2:x@y.z", recipient="x@y.z"),
        reply("reply:3:a@b.c", ticket),
        reply("reply:4:x@y.z", recipient="x@y.z"),
    )
    sender = RecordingSender()

    def held_until_the_next_batch_is_claimed(item: OutboxView) -> None:
        if item.id == first:
            wait_for(lambda: leased(sessions)[later] == "worker-a")

    sender.during_send = held_until_the_next_batch_is_claimed

    assert dispatcher(sessions, sender).run_until_idle() == 4

    order = [item.id for item in sender.sent]
    assert sorted(order) == [first, other, later, last]
    assert order.index(first) < order.index(later), "the ticket's later reply went first"
    assert set(leased(sessions).values()) == {None}


def test_a_stopping_dispatcher_sends_the_batch_in_hand_claims_no_more_and_holds_nothing(
    sessions: sessionmaker[Session],
):
    ids = enqueued(sessions, *(reply(f"reply:{n}:a@b.c", recipient=f"{n}@b.c") for n in range(5)))
    sender = RecordingSender()
    stop = threading.Event()
    sender.during_send = lambda item: stop.set()

    claimed = dispatcher(sessions, sender).run_until_idle(stopping=stop.is_set)

    # The first batch claimed the second before any send; then the stop came.
    assert claimed == 4
    assert sorted(item.id for item in sender.sent) == ids[:4]
    assert leased(sessions) == dict.fromkeys(ids, None)
    with sessions() as session:
        assert session.scalar(select(OutboxItem.status).where(OutboxItem.id == ids[4])) == "pending"
