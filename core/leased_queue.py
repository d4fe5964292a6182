"""The one leased queue behind the intake queue (``inbound_items``) and the outbox (``outbox``):
claim, lease, attempts, retry policy and parking, with one vocabulary for both.

A row is ``pending`` until it ends (``done`` or ``ignored`` items, ``sent`` rows) or is
``parked``: retrying cannot help, or its attempts ran out; an operator looks at it and retries
it from the command line. A claim leases due rows to one worker until ``lease`` seconds from
now (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers of several daemons share the queue); a
dead worker's rows come back when the lease ends, or sooner (``core/lease_recovery.py``).
Every try that fails counts as an attempt and waits by the :class:`RetryPolicy`.

On PostgreSQL a commit that adds work notifies every daemon sharing the database
(``NOTIFY threadline_<queue>``), so whichever is free takes it within milliseconds.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, bindparam, or_, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from threadline.core.backoff import Backoff
from threadline.core.queue_channels import queue_channel
from threadline.core.storable import without_nul

Observe = Callable[[str, str, datetime], None]
"""Told of every try after its commit: the channel, how it ended (``done``, ``ignored``,
``sent``, ``retrying``, ``parked``) and when the row was queued; the daemon's metrics."""

PENDING = "pending"
PARKED = "parked"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    backoff: Backoff
    max_attempts: int
    """Tries before a row is parked."""

    def retry_at(
        self,
        attempts: int,
        now: datetime,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> datetime | None:
        """When a row that failed its ``attempts``-th try is due again; None: park it. A
        provider's Retry-After is waited at least."""
        if attempts >= self.max_attempts:
            return None
        delay = max(retry_after or 0.0, self.backoff.delay(attempts, rng))
        return now + timedelta(seconds=delay)


def new_worker_id() -> str:
    """Names the process holding a lease, for an operator reading the table; the random part
    keeps two workers of one process (or a reused pid) apart."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def first_line(error: BaseException) -> str:
    """The message's first line, bounded and without NUL (PostgreSQL text refuses it), for an
    error whose message is written for an operator."""
    lines = without_nul(str(error)).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def one_line(error: BaseException) -> str:
    """The type and the first line: enough to triage from a list; a driver's error loses its
    SQLAlchemy wrapper (the SQL, a link)."""
    cause = getattr(error, "orig", None) or error
    line = first_line(cause)
    return f"{type(cause).__name__}: {line}"[:MAX_ERROR_CHARS] if line else type(cause).__name__


class LeasedQueue:
    """The statements of one queue table (``status``, ``attempts``, ``next_attempt_at``,
    ``last_error``, ``lease_owner``, ``lease_expires_at``, ``updated_at``)."""

    def __init__(
        self,
        table: Table,
        *,
        lease: float,
        worker_id: str,
        order: Sequence[ColumnElement[object]],
        on_claim: Mapping[str, object] | None = None,
    ) -> None:
        """``order``: the claim's order, that of an index on ``status`` and these columns, so
        a batch is read off the index instead of sorting the whole queue. ``on_claim``: more
        values a claim sets (the outbox counts its claims)."""
        self.table = table
        self._on_claim = dict(on_claim or {})
        self.lease = timedelta(seconds=lease)
        self.worker_id = worker_id
        self._order = order
        self._still_leased = (
            select(table.c.id)
            .where(
                table.c.id.in_(bindparam("ids", expanding=True)),
                table.c.lease_owner == bindparam("worker_id"),
                table.c.status == PENDING,
            )
            .order_by(table.c.id)
            # Waits rather than skips: another worker's claim may hold one of these rows for
            # an instant (locked before it saw the lease), and skipping would leave it behind
            # until this lease ends.
            .with_for_update()
        )

    def claim(
        self, connection: Connection, now: datetime, limit: int, holding: Sequence[int] = ()
    ) -> list[int]:
        """Lease up to ``limit`` due rows to this worker; their ids. Rows still leased to this
        worker (a batch whose transaction failed) are due again at once, except those it is
        ``holding`` (claimed and not yet handled)."""
        table = self.table
        conditions = [
            table.c.status == PENDING,
            or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
            or_(
                table.c.lease_expires_at.is_(None),
                table.c.lease_expires_at <= now,
                table.c.lease_owner == self.worker_id,
            ),
        ]
        if holding:
            conditions.append(table.c.id.not_in(holding))
        due = (
            select(table.c.id)
            .where(*conditions)
            .order_by(*self._order)
            .limit(limit)
            # SQLite renders no FOR UPDATE; its BEGIN IMMEDIATE serializes the claim instead.
            .with_for_update(skip_locked=True)
        )
        lease = (
            update(table)
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(
                lease_owner=self.worker_id,
                lease_expires_at=now + self.lease,
                updated_at=now,
                **self._on_claim,
            )
            .returning(table.c.id)
        )
        return sorted(connection.execute(lease).scalars())

    def still_leased(self, connection: Connection, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` this worker still holds; locked until the transaction ends, so a
        worker that finds the lease expired meanwhile skips them instead of taking them."""
        found = connection.execute(
            self._still_leased, {"ids": list(ids), "worker_id": self.worker_id}
        )
        return set(found.scalars())

    def failed(
        self,
        attempts: int,
        error: str,
        retry_at: datetime | None,
    ) -> dict[str, object]:
        """The values of a row whose ``attempts``-th try failed: due again at ``retry_at``,
        or parked without one."""
        return {
            "status": PARKED if retry_at is None else PENDING,
            "attempts": attempts,
            "next_attempt_at": retry_at,
            "last_error": error,
            **RELEASED,
        }


RELEASED: dict[str, object] = {"lease_owner": None, "lease_expires_at": None}


def channel_of(table: Table) -> str:
    """The PostgreSQL notification channel of a queue table."""
    return queue_channel(table.name)


def notify(connection: Connection, table: Table) -> None:
    """Tells every daemon listening on PostgreSQL that ``table`` has new work, once the
    transaction commits (PostgreSQL folds repeats of one transaction into one)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {channel_of(table)}"))
