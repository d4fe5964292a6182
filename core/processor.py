"""Process: turn due inbound items into stored messages, one batch transaction at a time.

A batch is claimed in a short transaction of its own (a lease: on PostgreSQL ``FOR UPDATE SKIP
LOCKED``, so several processes share the queue; a crashed worker's items return when its lease
expires), then handled in one transaction where a failing item is isolated in a SAVEPOINT: a
poison item is rolled back alone, its failure recorded, and the rest of the batch still commits.
Claiming and recording are a few set-based statements per batch, whatever its size.

Work that needs no database (parsing) is a separate ``prepare`` step, started when a batch is
claimed: while a queue drains, the next batch is claimed and its preparing started before the
current one is handled, so it can run in other processes meanwhile (``daemon/parse_workers.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Text, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.backoff import Backoff
from threadline.core.leased_queue import (
    PARKED,
    PENDING,
    RELEASED,
    LeasedQueue,
    Observe,
    RetryPolicy,
    new_worker_id,
    one_line,
)
from threadline.core.models import InboundItem
from threadline.core.models.base import now_utc
from threadline.core.outcome import Outcome, Park
from threadline.core.settings import IntakeSettings


@dataclass(frozen=True)
class QueuedItem:
    """What a handler reads of a claimed item, read-only (the processor alone writes items)."""

    id: int
    channel: str
    raw: bytes
    meta: dict[str, Any] | None
    attempts: int
    prepared: object = None
    """What the processor's ``prepare`` made of the item (None without one)."""
    accepted_at: datetime | None = None


Prepare = Callable[[Sequence[QueuedItem]], Callable[[], Sequence[object]]]
"""Starts the work on claimed items that needs no database, outside any transaction, and
returns what waits for it: one result per item, in order, which the handler reads as
``item.prepared``. Results must not depend on the database, as a batch is prepared before the
one ahead of it commits."""

Handler = Callable[[Session, Sequence[QueuedItem]], list[Outcome]]
"""Handles items in the batch transaction and says how each ended, in order (a whole batch at
once, so it can read and write a set at a time); raises :class:`Park` when retrying cannot help,
anything else for a failure worth retrying. The processor alone writes the items' rows. A batch
in which an item failed is rolled back and run again an item at a time, so a handler may run
twice for one attempt: it must keep nothing of a run outside the transaction (no cache of rows
it has not seen committed)."""

ItemHandler = Callable[[Session, QueuedItem], Outcome]
"""A handler that takes one item at a time; :func:`one_at_a_time` makes it a :data:`Handler`."""

Clock = Callable[[], datetime]
"""Naive UTC, like every timestamp column."""

_items = InboundItem.__table__
_log = structlog.get_logger(__name__)
_LEASED_ITEMS = (
    select(
        _items.c.id,
        _items.c.channel,
        _items.c.raw,
        _items.c.meta,
        _items.c.attempts,
        _items.c.created_at,
    )
    .where(_items.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_items.c.id)
)


@dataclass
class Tally:
    done: int = 0
    ignored: int = 0
    retrying: int = 0
    parked: int = 0
    """Attempts exhausted, or :class:`Park` raised."""

    @property
    def total(self) -> int:
        return self.done + self.ignored + self.retrying + self.parked

    def add(self, other: Tally) -> None:
        self.done += other.done
        self.ignored += other.ignored
        self.retrying += other.retrying
        self.parked += other.parked


@dataclass(frozen=True)
class Batch:
    """Claimed items with their preparing under way."""

    items: list[QueuedItem]
    prepared: Callable[[], Sequence[object]]

    @property
    def ids(self) -> list[int]:
        return [item.id for item in self.items]


def _nothing_to_prepare(items: Sequence[QueuedItem]) -> Callable[[], Sequence[object]]:
    return lambda: [None] * len(items)


class _ItemFailed(Exception):
    """Ends a batch run without savepoints, to run it again with them."""


class Processor:
    """Runs one batch at a time: a second batch of the same instance in parallel could take
    back the first one's items, which this worker id still holds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handler: Handler,
        settings: IntakeSettings,
        clock: Clock = now_utc,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        prepare: Prepare = _nothing_to_prepare,
        observe: Observe | None = None,
    ) -> None:
        self._sessions = sessions
        self._handler = handler
        self._prepare = prepare
        self._observe = observe
        self._settings = settings
        self._clock = clock
        self._queue = LeasedQueue(
            _items,
            lease=settings.lease,
            worker_id=worker_id or new_worker_id(),
            order=(_items.c.next_attempt_at, _items.c.id),
        )
        self._retry = RetryPolicy(
            Backoff(settings.retry_initial, settings.retry_maximum), settings.max_attempts
        )
        self._rng = rng or random.Random()

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    def run_batch(self) -> int:
        """Claim and handle one batch; the number of items handled (0: nothing was due)."""
        return self.process(self.claim()).total

    def run_until_idle(
        self,
        stopping: Callable[[], bool] = lambda: False,
        on_batch: Callable[[], None] | None = None,
        batch_size: Callable[[], int] | None = None,
    ) -> Tally:
        """Batches until none is due, each claimed (and its preparing started) before the one
        ahead of it is handled. Items that fail again wait for their backoff, so this ends even
        when every item keeps failing. Once ``stopping()`` says so, no more is claimed: the
        batch in hand is handled and nothing stays leased. ``on_batch`` after each commit;
        ``batch_size``: how many to claim next, when not ``[intake] batch_size``."""
        size = batch_size or (lambda: self._settings.batch_size)
        tally = Tally()
        batch = self.claim(size=size())
        while batch.items:
            ahead = self.claim(holding=batch.ids, size=size()) if not stopping() else None
            tally.add(self.process(batch))
            if on_batch is not None:
                on_batch()
            if ahead is None:
                break
            batch = ahead
        return tally

    def claim(self, holding: Sequence[int] = (), size: int | None = None) -> Batch:
        """Lease up to ``size`` (``[intake] batch_size``) due items to this worker, commit, and
        start preparing them; the lease outlives a crash of the batch transaction
        (``LeasedQueue.claim``)."""
        with self._sessions.begin() as session:
            connection = session.connection()
            leased = self._queue.claim(
                connection, self._clock(), size or self._settings.batch_size, holding
            )
            # Read apart from the UPDATE: SQLite gathers all of RETURNING's rows in memory
            # first, so a large mail returned there was held several times over at once.
            rows = connection.execute(_LEASED_ITEMS, {"ids": leased}).all() if leased else []
        items = [QueuedItem(*row[:5], accepted_at=row[5]) for row in rows]
        return Batch(items, self._prepare(items))

    def process(self, batch: Batch) -> Tally:
        """Handle the batch's items still leased to this worker in one transaction. The rows
        stay locked until it commits, so a worker that finds this lease expired meanwhile skips
        them in its claim instead of handling them twice.

        A SAVEPOINT and its RELEASE per item cost about as much as the rest of the processor,
        and items rarely fail: so the batch first runs without them, and only when an item
        fails is it rolled back whole and run again with each item in its own SAVEPOINT."""
        if not batch.items:
            return Tally()
        # Before the transaction opens: it should not stay open while a parse finishes.
        items = [
            replace(item, prepared=prepared)
            for item, prepared in zip(batch.items, batch.prepared(), strict=True)
        ]
        try:
            return self._process(items, isolated=False)
        except _ItemFailed:
            _log.debug("an inbound item failed, running its batch again item by item")
            return self._process(items, isolated=True)

    def _process(self, claimed: list[QueuedItem], isolated: bool) -> Tally:
        tally = Tally()
        with self._sessions.begin() as session:
            # Attempts as claimed still hold: only a lease's holder records a try, and a
            # lease taken over meanwhile leaves the item out here.
            leased = self._queue.still_leased(session.connection(), [i.id for i in claimed])
            items = [item for item in claimed if item.id in leased]
            if isolated:
                handled, failed = self._handle_each(session, items, tally)
            else:
                handled, failed = self._handle_all(session, items, tally), []
            self._record(session, handled, failed)
        if self._observe is not None:
            by_id = {item.id: item for item in items}
            for row in (*handled, *failed):
                item = by_id[row["item_id"]]
                status = str(row["new_status"])
                outcome = "retrying" if status == PENDING else status
                self._observe(item.channel, outcome, item.accepted_at or self._clock())
        return tally

    def _handle_all(
        self, session: Session, items: Sequence[QueuedItem], tally: Tally
    ) -> list[dict[str, object]]:
        """The whole batch in one call of the handler: the fast way, while nothing fails."""
        try:
            outcomes = self._handler(session, items)
            session.flush()
        except Exception as error:
            raise _ItemFailed from error
        return [
            _handled(item.id, outcome, tally) for item, outcome in zip(items, outcomes, strict=True)
        ]

    def _handle_each(
        self, session: Session, items: Sequence[QueuedItem], tally: Tally
    ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """Each item as a batch of one in its own SAVEPOINT: a failure stays that item's."""
        handled: list[dict[str, object]] = []
        failed: list[dict[str, object]] = []
        for item in items:
            item_id, channel, attempts = item.id, item.channel, item.attempts
            try:
                with session.begin_nested():
                    (outcome,) = self._handler(session, [item])
                    # Here, so a write the handler left unflushed fails as this item's.
                    session.flush()
            except Exception as error:
                failed.append(self._failure(item_id, channel, attempts + 1, error, tally))
            else:
                handled.append(_handled(item_id, outcome, tally))
        return handled, failed

    @property
    def worker_id(self) -> str:
        return self._queue.worker_id

    def _failure(
        self, item_id: int, channel: str, attempts: int, error: Exception, tally: Tally
    ) -> dict[str, object]:
        description = one_line(error)
        now = self._clock()
        retry_at = (
            None if isinstance(error, Park) else self._retry.retry_at(attempts, now, self._rng)
        )
        if retry_at is None:
            tally.parked += 1
            _log.error(
                "inbound item parked",
                item=item_id,
                channel=channel,
                attempts=attempts,
                error=description,
                hint="inspect with `threadline inbound show`, then `threadline inbound retry`",
            )
        else:
            tally.retrying += 1
            _log.warning(
                "inbound item failed, will retry",
                item=item_id,
                channel=channel,
                attempts=attempts,
                retry_in=round((retry_at - now).total_seconds(), 3),
                error=description,
            )
        return {
            "item_id": item_id,
            "new_status": PARKED if retry_at is None else PENDING,
            "new_attempts": attempts,
            "retry_at": retry_at,
            "error": description,
        }

    def _record(
        self, session: Session, handled: list[dict[str, object]], failed: list[dict[str, object]]
    ) -> None:
        """One executemany per kind of ending; each clears the lease."""
        now = self._clock()
        released = {**RELEASED, "updated_at": now}
        if handled:
            session.execute(
                update(_items)
                .where(_items.c.id == bindparam("item_id"))
                .values(
                    status=bindparam("new_status"),
                    message_id=bindparam("stored_message_id"),
                    # An ignored item keeps why; a done one keeps the error of an earlier try.
                    last_error=func.coalesce(bindparam("reason", type_=Text), _items.c.last_error),
                    **released,
                ),
                handled,
            )
        if failed:
            session.execute(
                update(_items)
                .where(_items.c.id == bindparam("item_id"))
                .values(
                    status=bindparam("new_status"),
                    attempts=bindparam("new_attempts"),
                    next_attempt_at=bindparam("retry_at"),
                    last_error=bindparam("error"),
                    **released,
                ),
                failed,
            )


def one_at_a_time(handler: ItemHandler) -> Handler:
    """A batch handler that hands ``handler`` each item in turn."""

    def handle(session: Session, items: Sequence[QueuedItem]) -> list[Outcome]:
        return [handler(session, item) for item in items]

    return handle


def _handled(item_id: int, outcome: Outcome, tally: Tally) -> dict[str, object]:
    if outcome.status == "done":
        tally.done += 1
    else:
        tally.ignored += 1
    return {
        "item_id": item_id,
        "new_status": outcome.status,
        "stored_message_id": outcome.message_id,
        "reason": outcome.reason,
    }
