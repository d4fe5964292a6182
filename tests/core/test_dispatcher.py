"""The dispatcher: leases, sends outside transactions, records outcomes, retries and gives up."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import (
    Conversation,
    Crash,
    FakeClock,
    RecordingSender,
    conversation,
    enqueued,
    reply,
)
from threadline.core.admin.outbox import retry_outbox
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.senders import (
    NotYet,
    OutboxView,
    PermanentSendError,
    SenderRegistry,
    SendResult,
    TransientSendError,
)
from threadline.core.settings import DispatchSettings

SETTINGS = DispatchSettings(
    batch_size=10, max_attempts=4, retry_initial=30.0, retry_maximum=3600.0, lease=120.0
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def dispatcher(
    sessions: sessionmaker[Session], sender: RecordingSender, clock: FakeClock
) -> Dispatcher:
    return make_dispatcher(sessions, sender, clock, "worker-a")


@pytest.fixture
def ticket(sessions: sessionmaker[Session]) -> Conversation:
    return conversation(sessions)


def make_dispatcher(
    sessions: sessionmaker[Session],
    sender: RecordingSender,
    clock: FakeClock,
    worker_id: str,
    settings: DispatchSettings = SETTINGS,
) -> Dispatcher:
    return Dispatcher(sessions, registry(sender), settings, clock, worker_id, random.Random(7))


def row(sessions: sessionmaker[Session], row_id: int) -> OutboxItem:
    with sessions() as session:
        found = session.get(OutboxItem, row_id)
    assert found is not None
    return found


def refs(sessions: sessionmaker[Session]) -> list[tuple[str, str, int, int | None]]:
    with sessions() as session:
        return [
            (ref.channel, ref.external_id, ref.ticket_id, ref.message_id)
            for ref in session.scalars(select(MessageRef).order_by(MessageRef.id))
        ]


def transactions_of(engine: Engine) -> list[list[str]]:
    """The statements each transaction ran, in order, as the database saw them."""
    transactions: list[list[str]] = []

    @event.listens_for(engine, "begin")
    def begun(connection: object) -> None:
        transactions.append([])

    @event.listens_for(engine, "before_cursor_execute")
    def executed(connection: object, cursor: object, statement: str, *args: object) -> None:
        if transactions:
            transactions[-1].append(" ".join(statement.split()))

    return transactions


def test_a_sent_row_records_provider_id_and_message_ref_in_the_same_commit(
    sessions: sessionmaker[Session],
    engine: Engine,
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
    ticket: Conversation,
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c", ticket))
    transactions = transactions_of(engine)

    assert dispatcher.run_batch() == 1

    assert [item.id for item in sender.sent] == [row_id]
    assert sender.sent[0].payload == {"body": "answer reply:1:a@b.c"}
    sent = row(sessions, row_id)
    provider_id = f"provider-{row_id}"
    assert (sent.status, sent.delivery_status, sent.provider_id) == ("sent", "sent", provider_id)
    assert (sent.sent_at, sent.attempts, sent.lease_owner) == (clock.now, 1, None)
    assert refs(sessions) == [("test", provider_id, ticket.ticket_id, ticket.message_id)]
    (recorded,) = [
        statements
        for statements in transactions
        if any(statement.startswith("INSERT INTO message_refs") for statement in statements)
    ]
    assert any(re.match(r"UPDATE outbox SET .*\bstatus=", s) for s in recorded), recorded


def test_no_database_connection_is_held_while_a_row_is_sent(
    sessions: sessionmaker[Session],
    engine: Engine,
    dispatcher: Dispatcher,
    sender: RecordingSender,
):
    enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:a@b.c"))
    held: list[int] = []
    sender.during_send = lambda item: held.append(engine.pool.checkedout())  # type: ignore[attr-defined]

    assert dispatcher.run_batch() == 2

    assert held == [0, 0]


def test_a_row_without_ticket_or_provider_id_is_sent_without_a_ref(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    ticket: Conversation,
):
    no_ticket, no_provider_id = enqueued(
        sessions, reply("notify:1"), reply("reply:2:a@b.c", ticket)
    )
    sender.provider_id = lambda item: None if item.id == no_provider_id else "mid-1"

    dispatcher.run_batch()

    assert row(sessions, no_ticket).status == "sent"
    assert row(sessions, no_provider_id).status == "sent"
    assert refs(sessions) == []


def test_a_provider_id_already_known_as_a_ref_does_not_fail_the_send(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    ticket: Conversation,
):
    with sessions.begin() as session:
        session.add(MessageRef(channel="test", external_id="mid-1", ticket_id=ticket.ticket_id))
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c", ticket))
    sender.provider_id = lambda item: "mid-1"

    dispatcher.run_batch()

    assert row(sessions, row_id).status == "sent"
    assert refs(sessions) == [("test", "mid-1", ticket.ticket_id, None)]


def test_a_transient_failure_is_retried_with_growing_backoff_until_sent(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    sender.fail_next(*(TransientSendError("421 4.7.0 try again later") for _ in range(3)))
    waits = []
    for attempt in (1, 2, 3):
        assert dispatcher.run_batch() == 1
        failed = row(sessions, row_id)
        assert (failed.status, failed.attempts) == ("pending", attempt)
        assert failed.last_error == "421 4.7.0 try again later"
        assert failed.next_attempt_at is not None
        waits.append((failed.next_attempt_at - clock.now).total_seconds())
        clock.advance(waits[-1] - 1)
        assert dispatcher.run_batch() == 0, "claimed before it was due"
        clock.advance(1)

    assert dispatcher.run_batch() == 1
    sent = row(sessions, row_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 4, None)
    for attempt, wait in enumerate(waits, start=1):
        step = 30.0 * 2 ** (attempt - 1)
        assert step / 2 <= wait <= step
    assert waits == sorted(waits)


def test_retry_after_from_the_provider_is_honoured_over_a_shorter_backoff(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    sender.fail_next(TransientSendError("429 Too Many Requests", retry_after=900))

    dispatcher.run_batch()

    assert row(sessions, row_id).next_attempt_at == clock.now + timedelta(seconds=900)


def test_an_unexpected_exception_counts_as_transient_and_names_its_type(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sender: RecordingSender
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    sender.fail_next(ConnectionResetError("peer reset\nsecond line"))

    dispatcher.run_batch()

    failed = row(sessions, row_id)
    assert (failed.status, failed.last_error) == ("pending", "ConnectionResetError: peer reset")


def test_a_row_is_dead_after_the_maximum_attempts(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    sender.fail_next(*(TransientSendError(f"timeout {n}") for n in range(1, 5)))
    for _ in range(SETTINGS.max_attempts):
        assert dispatcher.run_batch() == 1
        clock.advance(SETTINGS.retry_maximum)

    dead = row(sessions, row_id)
    assert (dead.status, dead.attempts, dead.last_error) == ("parked", 4, "timeout 4")
    assert dead.next_attempt_at is None
    assert dispatcher.run_batch() == 0
    assert len(sender.sent) == 4


def test_every_try_is_told_to_the_observer_after_its_commit(
    sessions: sessionmaker[Session], sender: RecordingSender, clock: FakeClock
):
    tries: list[tuple[str, str]] = []
    dispatcher = Dispatcher(
        sessions,
        registry(sender),
        SETTINGS,
        clock,
        "worker-a",
        random.Random(7),
        observe=lambda channel, outcome, queued_at: tries.append((channel, outcome)),
    )
    enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:b@b.c", recipient="b@b.c"))
    sender.fail_next(TransientSendError("timeout"), PermanentSendError("550 no such user"))

    dispatcher.run_batch()
    clock.advance(SETTINGS.retry_maximum)
    dispatcher.run_batch()

    assert tries == [("test", "retrying"), ("test", "parked"), ("test", "sent")]


def test_a_permanent_failure_is_parked_at_once(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sender: RecordingSender
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    sender.fail_next(PermanentSendError("550 5.1.1 no such user"))

    dispatcher.run_batch()

    dead = row(sessions, row_id)
    assert (dead.status, dead.attempts, dead.last_error) == (
        "parked",
        1,
        "550 5.1.1 no such user",
    )


def test_a_row_for_a_channel_without_sender_is_dead_with_what_to_do(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sender: RecordingSender
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c", channel="whatsapp"))

    dispatcher.run_batch()

    dead = row(sessions, row_id)
    assert dead.status == "parked"
    assert dead.last_error is not None
    assert "no sender is registered for channel 'whatsapp'" in dead.last_error
    assert f"threadline outbox retry {row_id}" in dead.last_error
    assert sender.sent == []


def test_a_crashed_workers_lease_is_reclaimed_once_it_expires(
    sessions: sessionmaker[Session], sender: RecordingSender, clock: FakeClock
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    crashing = make_dispatcher(sessions, sender, clock, "worker-a")
    other = make_dispatcher(sessions, sender, clock, "worker-b")
    sender.fail_next(Crash())
    with pytest.raises(Crash):
        crashing.run_batch()
    assert row(sessions, row_id).lease_owner == "worker-a"

    clock.advance(SETTINGS.lease - 1)
    assert other.run_batch() == 0
    clock.advance(1)
    assert other.run_batch() == 1

    assert row(sessions, row_id).status == "sent"
    assert [item.id for item in sender.sent] == [row_id, row_id]
    assert [item.resumed for item in sender.sent] == [False, True]


def test_a_row_its_destinations_pace_holds_back_waits_with_its_tickets_later_rows_untried(
    sessions: sessionmaker[Session], ticket: Conversation, sender: RecordingSender, clock: FakeClock
):
    first, second = enqueued(
        sessions, reply("reply:1:a@b.c", ticket), reply("reply:2:a@b.c", ticket)
    )
    dispatcher = make_dispatcher(sessions, sender, clock, "worker-a")
    sender.fail_next(NotYet(3.0))
    dispatcher.run_batch()

    for row_id in (first, second):
        held = row(sessions, row_id)
        assert (held.status, held.attempts, held.lease_owner) == ("pending", 0, None)
        assert held.next_attempt_at == clock() + timedelta(seconds=3)
    assert [item.id for item in sender.sent] == [first]

    clock.advance(3)
    assert dispatcher.run_batch() == 2
    assert [(item.id, item.resumed) for item in sender.sent[1:]] == [
        (first, False),
        (second, False),
    ]


def test_a_ticket_row_waits_for_an_earlier_one_to_its_reader_that_failed_others_go_on(
    sessions: sessionmaker[Session], ticket: Conversation, sender: RecordingSender, clock: FakeClock
):
    """A client never gets a ticket's second reply before its first."""
    first, second, elsewhere = enqueued(
        sessions,
        reply("reply:1:a@b.c", ticket),
        reply("reply:2:a@b.c", ticket),
        reply("notify:3:agent@desk.example", ticket, recipient="agent@desk.example"),
    )
    dispatcher = make_dispatcher(sessions, sender, clock, "worker-a")
    sender.fail_next(TransientSendError("451 4.3.0 try again later"))
    dispatcher.run_batch()

    failed, waiting = row(sessions, first), row(sessions, second)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert failed.next_attempt_at is not None
    assert waiting.next_attempt_at == failed.next_attempt_at
    assert row(sessions, elsewhere).status == "sent"
    assert [item.id for item in sender.sent] == [first, elsewhere]

    clock.now = failed.next_attempt_at
    dispatcher.run_batch()
    assert [item.id for item in sender.sent[2:]] == [first, second]


def test_a_row_retried_after_a_recorded_failure_is_not_resumed_but_one_crashed_stays_so(
    sessions: sessionmaker[Session], sender: RecordingSender, clock: FakeClock
):
    """Only a claim that recorded nothing can have sent unseen; a retry from the command line
    keeps that knowledge while it resets the attempts."""
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c"))
    dispatcher = make_dispatcher(sessions, sender, clock, "worker-a")
    sender.fail_next(TransientSendError("451 try later"), Crash())
    dispatcher.run_batch()
    clock.advance(SETTINGS.retry_maximum)
    with pytest.raises(Crash):
        dispatcher.run_batch()
    clock.advance(SETTINGS.lease)
    with sessions.begin() as session:
        retry_outbox(session, row_id, clock())
    dispatcher.run_batch()

    assert [item.resumed for item in sender.sent] == [False, False, True]


def test_a_worker_that_lost_its_lease_mid_send_does_not_overwrite_the_new_owner(
    sessions: sessionmaker[Session], ticket: Conversation, clock: FakeClock
):
    (row_id,) = enqueued(sessions, reply("reply:1:a@b.c", ticket))
    fast = RecordingSender(provider_id=lambda item: "from-b")
    other = make_dispatcher(sessions, fast, clock, "worker-b")

    def stall_until_reclaimed(item: OutboxView) -> None:
        clock.advance(SETTINGS.lease)
        assert other.run_batch() == 1

    slow = RecordingSender(provider_id=lambda item: "from-a", during_send=stall_until_reclaimed)
    make_dispatcher(sessions, slow, clock, "worker-a").run_batch()

    sent = row(sessions, row_id)
    assert (sent.status, sent.provider_id, sent.attempts) == ("sent", "from-b", 1)
    # Both messages went out; a reply to either must find the ticket.
    assert {ref[1] for ref in refs(sessions)} == {"from-a", "from-b"}


def test_a_batch_stops_sending_once_its_lease_has_run_out(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
):
    first, second = enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:a@b.c"))
    sender.during_send = lambda item: clock.advance(SETTINGS.lease)

    assert dispatcher.run_batch() == 2
    assert [item.id for item in sender.sent] == [first]
    assert row(sessions, second).status == "pending"

    sender.during_send = None
    assert dispatcher.run_batch() == 1
    assert [item.id for item in sender.sent] == [first, second]


@pytest.mark.parametrize("run", ["run_batch", "run_until_idle"])
def test_concurrent_dispatchers_never_send_the_same_row(
    sessions: sessionmaker[Session], sender: RecordingSender, run: str
):
    """``run_until_idle`` claims the next batch while one is sent, holding the one in hand."""
    rows = 120
    enqueued(sessions, *(reply(f"reply:{n}:a@b.c") for n in range(rows)))
    sender.during_send = lambda item: threading.Event().wait(0.001)
    workers = [
        Dispatcher(sessions, registry(sender), SETTINGS, worker_id=f"worker-{n}") for n in range(4)
    ]
    start = threading.Barrier(len(workers))
    claimed: Counter[str] = Counter()
    errors: list[BaseException] = []

    def work(dispatcher: Dispatcher) -> None:
        try:
            start.wait(timeout=10)
            while count := getattr(dispatcher, run)():
                claimed[dispatcher.worker_id] += count
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sends = Counter(item.id for item in sender.sent)
    assert len(sends) == rows
    assert set(sends.values()) == {1}
    assert sum(claimed.values()) == rows
    assert len(claimed) > 1, "one worker took everything: the test proved nothing"


def registry(sender: RecordingSender) -> SenderRegistry:
    senders = SenderRegistry()
    senders.register("test", sender)
    return senders


def test_a_channel_registers_one_sender():
    senders = SenderRegistry()
    senders.register("email", RecordingSender())

    with pytest.raises(ValueError, match="'email' already has a sender"):
        senders.register("email", RecordingSender())
    assert senders.get("slack") is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_row_locked_by_another_worker_is_skipped_not_waited_on(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sender: RecordingSender
):
    locked, free = enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:a@b.c"))
    with sessions() as holder:
        holder.scalars(select(OutboxItem).where(OutboxItem.id == locked).with_for_update()).one()
        batch = threading.Thread(target=dispatcher.run_batch)
        batch.start()
        batch.join(timeout=5)
        finished = not batch.is_alive()
        holder.rollback()
    batch.join(timeout=10)

    assert finished, "the dispatcher waited on a locked row"
    assert [item.id for item in sender.sent] == [free]


def test_a_send_result_the_outbox_cannot_record_is_refused_by_the_sender():
    with pytest.raises(ValueError, match="longer than 255"):
        SendResult("x" * 256)
    with pytest.raises(ValueError, match="raise PermanentSendError"):
        SendResult("SM1", delivery_status="failed")
