"""Sending the outbox: claim due rows, send each through its channel, record what happened.

No database transaction is ever open across a send: a send is slow network I/O, and a
transaction held over it would pin a connection and (on SQLite) the write lock for its whole
length. So a batch is three steps: a short transaction that leases due rows to this worker, the
sends, and short transactions that record the outcomes gathered meanwhile, if the leases are
still ours. While a full batch is sent, the next one is claimed and read on a thread of its
own, so that the sends do not stop for it; its rows wait for every row of the batch before.

Delivery is at least once: a worker that dies between a send and its record leaves the row
leased, and it is sent again when the lease comes back. The row then has more claims than
recorded tries (``OutboxView.resumed``): a sender looks for its earlier send where the provider
lets it, and gets the row's stable idempotency key to make a resend harmless where it does not.

Notifications of one burst (``core/notify.py``: same channel, agent, ticket and window) that
come due in one claim go out as one, listing every message; each row records that send.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.backoff import Backoff
from threadline.core.batch_work import BatchWork
from threadline.core.db import among
from threadline.core.leased_queue import (
    PARKED,
    PENDING,
    LeasedQueue,
    Observe,
    RetryPolicy,
    first_line,
    new_worker_id,
    one_line,
)
from threadline.core.models import OutboxItem
from threadline.core.models.base import now_utc
from threadline.core.outbox_records import add_refs, mark_sent, put_off
from threadline.core.senders import (
    NotYet,
    OutboxView,
    PermanentSendError,
    ReadsAhead,
    SenderRegistry,
    SendResult,
    TransientSendError,
)
from threadline.core.settings import DispatchSettings
from threadline.core.undelivered import Refused, Undelivered

RECORD_EVERY_S = 0.05
"""How long outcomes gather before they are recorded together: a transaction per row would cost
a round trip per row, and a daemon killed before a record sends those rows again (mail with
the same Message-ID), so a crash repeats at most this long's sends and those in flight."""
Clock = Callable[[], datetime]
"""Naive UTC, like every timestamp column."""

_rows = OutboxItem.__table__
_CLAIMED = select(
    *(
        _rows.c[name]
        for name in (
            "id",
            "channel",
            "kind",
            "recipient",
            "payload",
            "ticket_id",
            "message_id",
            "attempts",
            "claims",
            "created_at",
            "idempotency_key",
        )
    )
)
"""What a claimed row's view is made of, read as plain rows: a batch of ORM objects cost more
than the claim itself."""
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Failure:
    error: str
    retry_at: datetime | None
    """When the row is due again; None: it is parked (refused for good, or out of attempts)."""


@dataclass(frozen=True)
class _Later:
    """Held back by its destination's pace: no try was made."""

    seconds: float


Outcome = SendResult | _Failure | _Later


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: SenderRegistry,
        settings: DispatchSettings,
        clock: Clock = now_utc,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        observe: Observe | None = None,
        undelivered: Undelivered | None = None,
    ) -> None:
        """``undelivered``: what becomes of a reply parked for good (``core/undelivered.py``),
        in the transaction that parks it."""
        self._sessions = sessions
        self._undelivered = undelivered
        self._senders = senders
        self._settings = settings
        self._clock = clock
        self._queue = LeasedQueue(
            _rows,
            lease=settings.lease,
            worker_id=worker_id or new_worker_id(),
            order=(_rows.c.id,),
            on_claim={"claims": _rows.c.claims + 1},
        )
        self._retry = RetryPolicy(
            Backoff(settings.retry_initial, settings.retry_maximum), settings.max_attempts
        )
        self._rng = rng or random.Random()
        self._observe = observe
        self._lanes = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="dispatch")
        self._claims = ThreadPoolExecutor(1, thread_name_prefix="dispatch-claim")

    @property
    def worker_id(self) -> str:
        return self._queue.worker_id

    def run_batch(self) -> int:
        """Claim and send one batch; the number of rows claimed (0: nothing was due)."""
        return self._send_batch(*self._claim())

    def run_until_idle(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Batches until one is not full; the rows claimed. Once ``stopping()`` says so, no
        more is claimed: the batch in hand is sent, and nothing stays leased."""
        claimed = 0
        rows, lease_ends = self._claim()
        while rows:
            ahead = None
            if len(rows) == self._settings.batch_size and not stopping():
                ahead = self._claims.submit(self._claim, [row.id for row in rows])
            claimed += self._send_batch(rows, lease_ends)
            if ahead is None:
                break
            rows, lease_ends = ahead.result()
        return claimed

    def _send_batch(self, rows: list[OutboxView], lease_ends: datetime) -> int:
        """The batch's rows go out in lanes, a lane per ticket (or recipient, for a row of no
        ticket): lanes run side by side on ``dispatch.concurrency`` threads, a lane's rows one
        after another in claim order, so what a ticket's reader gets stays in order. Outcomes
        are recorded as they come, those of every ``RECORD_EVERY_S`` in one transaction, and
        those there are when a send raised.
        """
        if not rows:
            return 0
        outcomes: dict[int, Outcome] = {}
        lanes = [
            self._lanes.submit(self._send_lane, lane, lease_ends, outcomes) for lane in _lanes(rows)
        ]
        unrecorded, running = rows, set(lanes)
        while running:
            _done, running = wait(running, timeout=RECORD_EVERY_S)
            unrecorded = self._record(unrecorded, outcomes)
        for lane in lanes:
            lane.result()
        return len(rows)

    def _claim(self, holding: list[int] | None = None) -> tuple[list[OutboxView], datetime]:
        """The rows, in id order, read ahead, and when their lease ends. ``holding``: the
        rows of the batch being sent, which are not due again."""
        now = self._clock()
        with self._sessions.begin() as session:
            ids = self._queue.claim(
                session.connection(), now, self._settings.batch_size, holding or ()
            )
            rows = session.execute(_CLAIMED.where(among(session, _rows.c.id, ids))).all()
            views = sorted((_view(row) for row in rows), key=lambda view: view.id)
        self._read_ahead(views)
        return views, now + self._queue.lease

    def _read_ahead(self, rows: list[OutboxView]) -> None:
        channels: dict[str, list[OutboxView]] = {}
        for row in rows:
            channels.setdefault(row.channel, []).append(row)
        for channel, items in channels.items():
            sender = self._senders.get(channel)
            if isinstance(sender, ReadsAhead):
                sender.read_ahead(items)

    def _send_lane(
        self,
        lane: list[list[OutboxView]],
        lease_ends: datetime,
        outcomes: dict[int, Outcome],
    ) -> None:
        retrying: dict[str, datetime] = {}  # recipient: when an earlier row that failed is due
        for place, burst in enumerate(lane):
            # A row sent after its lease ran out may be sent by another worker too.
            if self._clock() >= lease_ends:
                return
            row = _together(burst)
            due = retrying.get(row.recipient)
            if due is not None:
                # It waits for the earlier row's retry, so as not to reach its reader first.
                outcome: Outcome = _Later(max((due - self._clock()).total_seconds(), 0.0))
            else:
                outcome = self._send(row)
            if isinstance(outcome, _Later) and due is None:
                # Held back by its destination's pace: the ticket's later rows wait with it.
                for waiting in lane[place:]:
                    outcomes.update((held.id, outcome) for held in waiting)
                return
            if isinstance(outcome, _Failure) and outcome.retry_at is not None:
                retrying[row.recipient] = outcome.retry_at
            outcomes.update((sent.id, outcome) for sent in burst)

    def _send(self, row: OutboxView) -> Outcome:
        sender = self._senders.get(row.channel)
        if sender is None:
            return _Failure(
                f"no sender is registered for channel {row.channel!r}: configure the channel, "
                f"then run `threadline outbox retry {row.id}`",
                retry_at=None,
            )
        try:
            return sender.send(row)
        except NotYet as held:
            return _Later(held.seconds)
        except PermanentSendError as error:
            return _Failure(first_line(error), retry_at=None)
        except TransientSendError as error:
            return self._transient(row, first_line(error), error.retry_after)
        except Exception as error:
            return self._transient(row, one_line(error))

    def _transient(self, row: OutboxView, error: str, retry_after: float | None = None) -> _Failure:
        """Due again by the retry policy, or parked once its attempts ran out."""
        retry_at = self._retry.retry_at(row.attempts + 1, self._clock(), self._rng, retry_after)
        return _Failure(error, retry_at)

    def _record(self, rows: list[OutboxView], outcomes: dict[int, Outcome]) -> list[OutboxView]:
        """Records the outcomes of ``rows`` that have one, in one transaction; the rows still
        without. Rows left without one when the batch ends (their lease ran out first, or a
        send raised past us) stay leased, and come back when the lease ends."""
        ended: dict[type, list[Any]] = {SendResult: [], _Failure: [], _Later: []}
        waiting = []
        for row in rows:
            if (outcome := outcomes.get(row.id)) is None:
                waiting.append(row)
            else:
                ended[type(outcome)].append((row, outcome))
        if len(waiting) == len(rows):
            return waiting
        now = self._clock()
        sent, failed, later = ended[SendResult], ended[_Failure], ended[_Later]
        told: list[tuple[OutboxView, dict[str, Any], bool]] = []
        with self._sessions.begin() as session:
            if sent:
                marked = mark_sent(session, self._queue, now, sent)
                add_refs(session, sent)
                told += [(row, {"status": "sent"}, row.id in marked) for row, _ in sent]
            for row, failure in failed:
                told.append((row, *self._record_failure(session, row, failure, now)))
            if later:
                waits = [(row.id, held.seconds) for row, held in later]
                put_off(session, self.worker_id, now, waits)
        for row, values, marked in told:
            self._log_outcome(row, values, marked)
            if self._observe is not None:
                status = values["status"]
                self._observe(
                    row.channel, "retrying" if status == PENDING else status, row.created_at
                )
        return waiting

    def _record_failure(
        self, session: Session, row: OutboxView, outcome: _Failure, now: datetime
    ) -> tuple[dict[str, Any], bool]:
        values = self._queue.failed(row.attempts + 1, outcome.error, outcome.retry_at)
        marked = session.execute(
            update(OutboxItem)
            .where(
                OutboxItem.id == row.id,
                OutboxItem.status == PENDING,
                OutboxItem.lease_owner == self.worker_id,
            )
            .values(**values),
            execution_options={"synchronize_session": False},
        ).rowcount
        if marked and values["status"] == PARKED and self._undelivered is not None:
            work = BatchWork(session, now)
            refused = Refused(
                row.channel,
                row.kind,
                row.ticket_id,
                row.message_id,
                row.payload,
                row.idempotency_key,
            )
            self._undelivered(work, refused, outcome.error)
            work.flush()
        return values, bool(marked)

    def _log_outcome(self, row: OutboxView, values: dict[str, Any], marked: bool) -> None:
        if not marked:
            _log.warning(
                "outbox row lost its lease during the send; another worker owns it now",
                outbox_id=row.id,
                error=values.get("last_error"),
            )
        elif values["status"] == PARKED:
            _log.warning(
                "outbox row parked; `threadline outbox retry` sends it again",
                outbox_id=row.id,
                channel=row.channel,
                attempts=values["attempts"],
                error=values["last_error"],
            )


def _bursts(rows: list[OutboxView]) -> list[list[OutboxView]]:
    """Rows in claim order, those of one burst together at the place of its first."""
    groups: dict[object, list[OutboxView]] = {}
    for row in rows:
        burst = row.payload.get("burst")
        key = (row.channel, row.recipient, row.ticket_id, burst) if burst else row.id
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _lanes(rows: list[OutboxView]) -> list[list[list[OutboxView]]]:
    """The batch's bursts by ticket (by recipient for a row of no ticket), in claim order."""
    lanes: dict[object, list[list[OutboxView]]] = {}
    for burst in _bursts(rows):
        first = burst[0]
        key = (
            (first.channel, first.ticket_id)
            if first.ticket_id
            else (first.channel, first.recipient)
        )
        lanes.setdefault(key, []).append(burst)
    return list(lanes.values())


def _together(burst: list[OutboxView]) -> OutboxView:
    """One row saying what the burst's rows say: a new ticket stays news, and the body lists
    every message in order."""
    first = burst[0]
    if len(burst) == 1:
        return first
    kinds = [row.payload.get("type") for row in burst]
    kind = "ticket_created" if "ticket_created" in kinds else first.payload.get("type")
    body = "\n\n".join(
        f"--- Message {number} of {len(burst)} ---\n{row.payload.get('body', '')}"
        for number, row in enumerate(burst, 1)
    )
    return replace(first, payload={**first.payload, "type": kind, "body": body})


def _view(row: Row[Any]) -> OutboxView:
    return OutboxView(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        recipient=row.recipient,
        payload=dict(row.payload),
        ticket_id=row.ticket_id,
        message_id=row.message_id,
        attempts=row.attempts,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
        resumed=row.claims > row.attempts + 1,
    )
