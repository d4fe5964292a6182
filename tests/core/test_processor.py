"""The processor's contract with its handler: savepoints per item, retries with backoff,
parking, and leases that survive a crashed worker."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.handlers import Poison, clients_named, ignore, park, store_message
from threadline.core.backoff import Backoff
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem, Message
from threadline.core.outcome import Outcome, Park
from threadline.core.processor import ItemHandler, Processor, QueuedItem, Tally, one_at_a_time
from threadline.core.settings import IntakeSettings

T0 = datetime(2024, 5, 1, 12, 0)
WAIT_S = 10.0


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(**overrides: float) -> IntakeSettings:
    return IntakeSettings(**{"retry_initial": 10.0, "retry_maximum": 1000.0, **overrides})


def accept(sessions: sessionmaker[Session], *bodies: str) -> list[int]:
    accepted = Intake(sessions).accept_many(
        [RawItem("email", body, body.encode()) for body in bodies]
    )
    return [a.id for a in accepted]


def item(sessions: sessionmaker[Session], item_id: int) -> InboundItem:
    with sessions() as session:
        return session.get_one(InboundItem, item_id)


def processor(
    sessions: sessionmaker[Session],
    handler: ItemHandler = store_message,
    clock: Clock | None = None,
    worker_id: str = "worker-a",
    seed: int = 7,
    **overrides: float,
) -> Processor:
    return Processor(
        sessions,
        one_at_a_time(handler),
        settings(**overrides),
        clock or Clock(),
        worker_id,
        random.Random(seed),
    )


def test_each_item_is_stored_and_marked_done_with_its_message(sessions: sessionmaker[Session]):
    ids = accept(sessions, "one", "two", "three")

    tally = processor(sessions).run_until_idle()

    assert tally == Tally(done=3)
    for item_id, body in zip(ids, ["one", "two", "three"], strict=True):
        row = item(sessions, item_id)
        assert (row.status, row.attempts, row.lease_owner, row.lease_expires_at) == (
            "done",
            0,
            None,
            None,
        )
        with sessions() as session:
            assert session.get_one(Message, row.message_id).body == body


def test_an_ignored_item_keeps_its_reason(sessions: sessionmaker[Session]):
    (item_id,) = accept(sessions, "out of office")

    assert processor(sessions, ignore).run_until_idle() == Tally(ignored=1)

    row = item(sessions, item_id)
    assert (row.status, row.message_id, row.last_error) == ("ignored", None, "auto-reply")


def test_a_poison_item_is_rolled_back_alone_and_the_rest_of_the_batch_commits(
    sessions: sessionmaker[Session],
):
    ids = accept(sessions, "one", "poison", "three")
    handler = Poison(b"poison")

    assert processor(sessions, handler).run_batch() == 3

    assert [item(sessions, i).status for i in ids] == ["done", "pending", "done"]
    poisoned = item(sessions, ids[1])
    assert poisoned.attempts == 1
    assert poisoned.last_error == "ValueError: cannot parse"
    assert poisoned.raw == b"poison"
    with sessions() as session:
        assert clients_named(session, "poison") == 0
        assert clients_named(session, "one") == clients_named(session, "three") == 1


def test_a_batch_takes_a_few_statements_beyond_what_the_handler_does(
    engine: Engine, sessions: sessionmaker[Session]
):
    """Claim, lock and record are set-based: 50 items cost no more of them than 5."""

    def nothing(_session: Session, _item: InboundItem) -> Outcome:
        return Outcome("ignored")

    def statements_for(count: int) -> int:
        accept(sessions, *(f"{count}-{n}" for n in range(count)))
        seen: list[str] = []

        def record(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
            if "SAVEPOINT" not in sql.upper():
                seen.append(sql)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert processor(sessions, nothing).run_batch() == count
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    assert statements_for(50) == statements_for(5)


def test_a_batch_where_nothing_fails_takes_no_savepoint(
    engine: Engine, sessions: sessionmaker[Session]
):
    accept(sessions, "one", "two", "three")
    savepoints: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "SAVEPOINT" in sql.upper():
            savepoints.append(sql)

    event.listen(engine, "before_cursor_execute", record)

    assert processor(sessions).run_batch() == 3
    assert savepoints == []


def test_a_write_the_handler_left_unflushed_fails_as_that_items_own(
    sessions: sessionmaker[Session],
):
    ids = accept(sessions, "one", "orphan")

    def unflushed(session: Session, row: InboundItem) -> Outcome:
        if row.raw == b"orphan":
            session.add(Message(ticket_id=999_999, body="no such ticket"))
            return Outcome("done")
        return store_message(session, row)

    assert processor(sessions, unflushed).run_batch() == 2

    assert [item(sessions, i).status for i in ids] == ["done", "pending"]
    assert item(sessions, ids[1]).attempts == 1


def test_a_failing_item_waits_a_growing_backoff_and_is_not_claimed_before_it_is_due(
    sessions: sessionmaker[Session],
):
    (item_id,) = accept(sessions, "poison")
    clock = Clock()
    worker = processor(sessions, Poison(b"poison"), clock, seed=3, max_attempts=6)
    expected = Backoff(10.0, 1000.0)
    replica = random.Random(3)

    waits = []
    for attempt in range(1, 6):
        assert worker.run_batch() == 1
        due = item(sessions, item_id).next_attempt_at
        assert due is not None
        wait = (due - clock.now).total_seconds()
        assert wait == pytest.approx(expected.delay(attempt, replica), abs=1e-3)
        waits.append(wait)
        clock.now = due - timedelta(milliseconds=1)
        assert worker.run_batch() == 0
        clock.now = due

    assert waits == sorted(waits)
    assert waits[-1] > 4 * waits[0]
    assert item(sessions, item_id).attempts == 5


def test_after_max_attempts_the_item_is_parked_failed_forever_with_its_bytes(
    sessions: sessionmaker[Session],
):
    raw = "poison \N{SNOWMAN}"
    (item_id,) = accept(sessions, raw)
    clock = Clock()
    handler = Poison(b"poison")
    worker = processor(sessions, handler, clock, max_attempts=3)

    for _ in range(3):
        clock.advance(2000)
        assert worker.run_batch() == 1

    parked = item(sessions, item_id)
    assert (parked.status, parked.attempts, parked.next_attempt_at) == ("parked", 3, None)
    assert parked.raw == raw.encode()
    assert parked.last_error == "ValueError: cannot parse"
    calls = handler.calls
    clock.advance(10 * 365 * 86400)
    assert worker.run_until_idle() == Tally()
    assert handler.calls == calls


def test_park_parks_at_once(sessions: sessionmaker[Session]):
    ids = accept(sessions, "fax", "mail")

    def park_the_fax(session: Session, row: InboundItem) -> Outcome:
        return park(session, row) if row.raw == b"fax" else store_message(session, row)

    assert processor(sessions, park_the_fax).run_until_idle() == Tally(done=1, parked=1)

    parked = item(sessions, ids[0])
    assert (parked.status, parked.attempts) == ("parked", 1)
    assert parked.last_error == "Park: no parser for channel 'fax'"


def test_a_long_error_is_cut_to_one_short_line(sessions: sessionmaker[Session]):
    (item_id,) = accept(sessions, "poison")
    handler = Poison(b"poison", RuntimeError("x" * 5000 + "\nsecond line"))

    processor(sessions, handler).run_batch()

    error = item(sessions, item_id).last_error or ""
    assert error.startswith("RuntimeError: xxx")
    assert len(error) <= 500
    assert "\n" not in error


def test_an_error_that_quotes_a_nul_is_recorded_and_the_item_alone_parked(
    sessions: sessionmaker[Session],
):
    """PostgreSQL text refuses NUL: recorded as it was, the error would fail the whole batch,
    again at every sweep, and the item would never be parked."""
    poison, fine = accept(sessions, "poison", "mail")
    handler = Poison(b"poison", Park("cannot identify the sender: 'ada\x00@example.com'"))

    assert processor(sessions, handler).run_until_idle() == Tally(done=1, parked=1)

    assert item(sessions, poison).last_error == (
        "Park: cannot identify the sender: 'ada@example.com'"
    )
    assert item(sessions, fine).status == "done"


def test_a_crashed_workers_items_are_taken_by_another_after_its_lease_expires(
    sessions: sessionmaker[Session],
):
    ids = accept(sessions, "one", "two")
    clock = Clock()
    crashed = processor(sessions, clock=clock, worker_id="crashed", lease=60)
    survivor = processor(sessions, clock=clock, worker_id="survivor", lease=60)

    batch = crashed.claim()
    assert batch.ids == ids
    clock.advance(59)
    assert survivor.run_batch() == 0
    clock.advance(1)
    assert survivor.run_batch() == 2

    assert crashed.process(batch) == Tally()
    assert [item(sessions, i).status for i in ids] == ["done", "done"]
    with sessions() as session:
        assert clients_named(session, "one") == clients_named(session, "two") == 1


def test_a_worker_takes_back_its_own_items_when_their_batch_transaction_failed(
    sessions: sessionmaker[Session],
):
    ids = accept(sessions, "one")
    worker = processor(sessions, lease=3600)

    assert worker.claim().ids == ids
    assert worker.run_batch() == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_workers_never_handle_the_same_item(sessions: sessionmaker[Session]):
    ids = accept(sessions, *(f"m{n}" for n in range(300)))
    start = threading.Barrier(4)
    handled: list[int] = []

    def recording(session: Session, row: InboundItem) -> Outcome:
        handled.append(row.id)
        return store_message(session, row)

    def drain(worker: Processor) -> Tally:
        start.wait(WAIT_S)
        return worker.run_until_idle()

    workers = [processor(sessions, recording, worker_id=f"w{n}", batch_size=7) for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        tallies = [f.result(WAIT_S) for f in [pool.submit(drain, w) for w in workers]]

    assert sorted(handled) == ids
    assert sum(t.done for t in tallies) == 300
    assert all(t.done for t in tallies)
    assert {item(sessions, i).status for i in ids} == {"done"}


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_slow_workers_items_are_skipped_not_taken_while_it_still_holds_them(
    sessions: sessionmaker[Session],
):
    """Its lease expired mid-batch, but its transaction still holds the rows: SKIP LOCKED lets
    the other worker pass them by instead of handling them a second time or waiting."""
    ids = accept(sessions, "slow", "other")
    clock = Clock()
    inside = threading.Event()
    release = threading.Event()

    def slow(session: Session, row: InboundItem) -> Outcome:
        inside.set()
        assert release.wait(WAIT_S)
        return store_message(session, row)

    slow_worker = processor(sessions, slow, clock, "slow", lease=60, batch_size=1)
    fast_worker = processor(sessions, store_message, clock, "fast", lease=60)
    with ThreadPoolExecutor(1) as pool:
        batch = pool.submit(slow_worker.run_batch)
        assert inside.wait(WAIT_S)
        clock.advance(120)

        assert fast_worker.run_until_idle() == Tally(done=1)

        release.set()
        assert batch.result(WAIT_S) == 1
    assert [item(sessions, i).status for i in ids] == ["done", "done"]
    with sessions() as session:
        assert clients_named(session, "slow") == 1


def test_wakes_from_intake_see_the_new_item(sessions: sessionmaker[Session]):
    worker = processor(sessions)
    handled: list[int] = []
    intake = Intake(sessions, on_accepted=lambda _channels: handled.append(worker.run_batch()))

    intake.accept(RawItem("email", "k", b"hello"))

    assert handled == [1]


def test_a_drain_prepares_each_batch_before_handling_the_one_ahead_of_it(
    sessions: sessionmaker[Session],
):
    """So preparing (parsing, in other processes) overlaps the batch transaction; the batch
    in hand is not claimed again for the look-ahead, and each item is handled once with what
    was prepared for it."""
    ids = accept(sessions, *(f"m{n}" for n in range(5)))
    events: list[tuple[str, list[int]]] = []

    def prepare(items: Sequence[QueuedItem]) -> Callable[[], Sequence[object]]:
        events.append(("prepare", [i.id for i in items]))
        return lambda: [f"prepared {i.raw.decode()}" for i in items]

    def handle(session: Session, items: Sequence[QueuedItem]) -> list[Outcome]:
        events.append(("handle", [i.id for i in items]))
        assert [i.prepared for i in items] == [f"prepared {i.raw.decode()}" for i in items]
        return [Outcome("ignored") for _ in items]

    worker = Processor(sessions, handle, settings(batch_size=2), Clock(), prepare=prepare)

    assert worker.run_until_idle() == Tally(ignored=5)

    assert events == [
        ("prepare", ids[0:2]),
        ("prepare", ids[2:4]),
        ("handle", ids[0:2]),
        ("prepare", ids[4:5]),
        ("handle", ids[2:4]),
        ("prepare", []),
        ("handle", ids[4:5]),
    ]


def test_a_drain_told_to_stop_handles_the_batch_in_hand_and_leases_nothing_more(
    sessions: sessionmaker[Session],
):
    ids = accept(sessions, *(f"m{n}" for n in range(5)))

    tally = processor(sessions, batch_size=2).run_until_idle(stopping=lambda: True)

    assert tally == Tally(done=2)
    rows = [item(sessions, i) for i in ids]
    assert [r.status for r in rows] == ["done", "done", "pending", "pending", "pending"]
    assert {r.lease_owner for r in rows} == {None}


def test_a_claimed_batch_whose_lease_was_taken_over_meanwhile_is_not_handled(
    sessions: sessionmaker[Session],
):
    """The look-ahead batch waits while the one before it is handled: if its lease ran out
    and another worker took its items, they are that worker's alone."""
    ids = accept(sessions, "one", "two")
    clock = Clock()
    slow = processor(sessions, clock=clock, worker_id="slow", lease=60)
    other = processor(sessions, clock=clock, worker_id="other", lease=60)
    ahead = slow.claim()
    clock.advance(61)
    other.claim()

    assert slow.process(ahead) == Tally()
    assert [item(sessions, i).lease_owner for i in ids] == ["other", "other"]
