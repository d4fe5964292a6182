"""Sending the outbox: claim due rows, send each through its channel, record what happened.

No database transaction is ever open across a send: a send is slow network I/O, and a
transaction held over it would pin a connection and (on SQLite) the write lock for its whole
length. So a batch is three steps: a short transaction that leases due rows to this worker, the
sends, and one short transaction per row that records its outcome if the lease is still ours.

Delivery is at least once: a worker that dies between a send and its record leaves the row
leased, and it is sent again when the lease expires. Senders get the row's stable idempotency
key to make that resend harmless where the provider allows.

Notifications of one burst (``core/notify.py``: same channel, agent, ticket and window) that
come due in one claim go out as one, listing every message; each row records that send.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.backoff import Backoff
from threadline.core.batch_work import BatchWork
from threadline.core.db import upsert_insert
from threadline.core.leased_queue import (
    PARKED,
    PENDING,
    RELEASED,
    LeasedQueue,
    Observe,
    RetryPolicy,
    first_line,
    new_worker_id,
    one_line,
)
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.models.base import now_utc
from threadline.core.senders import (
    OutboxView,
    PermanentSendError,
    SenderRegistry,
    SendResult,
    TransientSendError,
)
from threadline.core.settings import DispatchSettings
from threadline.core.undelivered import Refused, Undelivered

Clock = Callable[[], datetime]
"""Naive UTC, like every timestamp column."""

_rows = OutboxItem.__table__
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Failure:
    error: str
    permanent: bool
    retry_after: float | None = None


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
        )
        self._retry = RetryPolicy(
            Backoff(settings.retry_initial, settings.retry_maximum), settings.max_attempts
        )
        self._rng = rng or random.Random()
        self._observe = observe

    @property
    def worker_id(self) -> str:
        return self._queue.worker_id

    def run_batch(self) -> int:
        """Claim and handle one batch; the number of rows claimed (0: nothing was due)."""
        rows, lease_ends = self._claim()
        for burst in _bursts(rows):
            # A row sent after its lease ran out may be sent by another worker too.
            if self._clock() >= lease_ends:
                break
            outcome = self._send(_together(burst))
            for row in burst:
                self._record(row, outcome)
        return len(rows)

    def _claim(self) -> tuple[list[OutboxView], datetime]:
        now = self._clock()
        with self._sessions.begin() as session:
            ids = self._queue.claim(session.connection(), now, self._settings.batch_size)
            rows = session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids))).all()
            views = sorted((_view(item) for item in rows), key=lambda view: view.id)
        return views, now + self._queue.lease

    def _send(self, row: OutboxView) -> SendResult | _Failure:
        sender = self._senders.get(row.channel)
        if sender is None:
            return _Failure(
                f"no sender is registered for channel {row.channel!r}: configure the channel, "
                f"then run `threadline outbox retry {row.id}`",
                permanent=True,
            )
        try:
            return sender.send(row)
        except PermanentSendError as error:
            return _Failure(first_line(error), permanent=True)
        except TransientSendError as error:
            return _Failure(first_line(error), permanent=False, retry_after=error.retry_after)
        except Exception as error:
            return _Failure(one_line(error), permanent=False)

    def _record(self, row: OutboxView, outcome: SendResult | _Failure) -> None:
        now = self._clock()
        attempts = row.attempts + 1
        values: dict[str, Any]
        if isinstance(outcome, SendResult):
            values = {
                "attempts": attempts,
                **RELEASED,
                "status": "sent",
                "delivery_status": outcome.delivery_status,
                "provider_id": outcome.provider_id,
                "sent_at": now,
                "next_attempt_at": None,
                "last_error": None,
            }
        else:
            retry_at = None
            if not outcome.permanent:
                retry_at = self._retry.retry_at(attempts, now, self._rng, outcome.retry_after)
            values = self._queue.failed(attempts, outcome.error, retry_at)
        with self._sessions.begin() as session:
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
            if isinstance(outcome, SendResult):
                # Recorded even if the lease was lost: the message did go out, and a reply to it
                # must still find its ticket.
                _add_ref(session, row, outcome.provider_id)
            elif marked and values["status"] == PARKED and self._undelivered is not None:
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
        self._log_outcome(row, values, bool(marked))
        if self._observe is not None:
            status = values["status"]
            outcome = "retrying" if status == PENDING else status
            self._observe(row.channel, outcome, row.created_at)

    def _log_outcome(self, row: OutboxView, values: dict[str, Any], marked: bool) -> None:
        if not marked:
            _log.warning(
                "outbox row lost its lease during the send; another worker owns it now",
                outbox_id=row.id,
                error=values["last_error"],
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


def _add_ref(session: Session, row: OutboxView, provider_id: str | None) -> None:
    if provider_id is None or row.ticket_id is None:
        return
    insert = upsert_insert(session)
    session.execute(
        insert(MessageRef)
        .values(
            channel=row.channel,
            external_id=provider_id,
            ticket_id=row.ticket_id,
            message_id=row.message_id,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )


def _view(item: OutboxItem) -> OutboxView:
    return OutboxView(
        id=item.id,
        channel=item.channel,
        kind=item.kind,
        recipient=item.recipient,
        payload=dict(item.payload),
        ticket_id=item.ticket_id,
        message_id=item.message_id,
        attempts=item.attempts,
        created_at=item.created_at,
        idempotency_key=item.idempotency_key,
    )
