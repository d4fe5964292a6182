"""Enqueueing what must leave, in the transaction of the change that caused it.

Writing the outbox row with the message that caused it (the transactional outbox) means a reply is
queued if and only if it was stored: a crash can lose neither half. The dispatcher sends it later,
outside that transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from threadline.core.bulk import BulkInsert
from threadline.core.db import DIALECT_INSERTS
from threadline.core.leased_queue import notify
from threadline.core.models import OutboxItem
from threadline.core.rows import OutboxRow

Kind = Literal["reply", "notification", "acknowledgement", "feed"]
KINDS: tuple[Kind, ...] = ("reply", "notification", "acknowledgement", "feed")
"""``feed``: a ticket's message posted where the agents follow every ticket (a chat channel)."""
MAX_IDEMPOTENCY_KEY = 255

# Built once per dialect: constructing statements costs more than running them.
_table = OutboxItem.__table__
_INSERT_IGNORING = {
    name: insert(OutboxItem).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for name, insert in DIALECT_INSERTS.items()
}
_INSERT = {name: statement.returning(OutboxItem.id) for name, statement in _INSERT_IGNORING.items()}
_BULK_INSERT = BulkInsert(
    OutboxItem.__table__, OutboxRow._fields, skip_conflicts_on=("idempotency_key",)
)


@dataclass(frozen=True)
class Outgoing:
    """One message to send. ``payload`` is the channel's business (subject, body, headers...).

    ``idempotency_key`` must be the same every time the same cause is handled again, e.g.
    ``f"reply:{message_id}:{recipient}"`` or ``f"notify:{message_id}:{user_id}"``: an inbound item
    processed twice (a retry after a crash) then queues its replies once. Never put a clock or a
    random value in it.
    """

    channel: str
    kind: Kind
    recipient: str
    payload: dict[str, Any]
    idempotency_key: str
    ticket_id: int | None = None
    message_id: int | None = None
    not_before: datetime | None = None
    """Held until then (naive UTC): a reminder waiting for its reader's working hours, a
    notification waiting for the end of its window."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown outbox kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if not self.idempotency_key:
            raise ValueError("an outgoing message needs an idempotency key")


def enqueue(session: Session, outgoing: Outgoing) -> int | None:
    """Add the row to the caller's transaction; commits nothing.

    Returns the new row's id, or None when a row with the same idempotency key exists already
    (the cause was handled before), so the caller's retry stays harmless on either database.
    """
    connection = session.connection()
    statement = _INSERT[connection.dialect.name]
    row_id = connection.execute(statement, outbox_row(outgoing)._asdict()).scalar_one_or_none()
    if row_id is not None:
        notify(connection, _table)
    return row_id


def outbox_row(outgoing: Outgoing) -> OutboxRow:
    return OutboxRow(
        _column_key(outgoing.idempotency_key),
        outgoing.channel,
        outgoing.kind,
        outgoing.recipient,
        outgoing.ticket_id,
        outgoing.message_id,
        outgoing.payload,
        outgoing.not_before,
    )


def insert_outbox_rows(connection: Connection, rows: list[OutboxRow]) -> None:
    """Many rows in one executemany, for a batch that needs no ids back; a row whose key is
    queued already is skipped, as in :func:`enqueue`."""
    if rows:
        _BULK_INSERT.execute(connection, rows)
        notify(connection, _table)


def _column_key(key: str) -> str:
    """Keys longer than the column (a long recipient can make them so) become their digest,
    which is as stable as the key itself."""
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
