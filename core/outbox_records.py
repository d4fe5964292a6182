"""Recording a batch's sends in a few statements, whatever its size: a statement per row
would cost the dispatcher a round trip per row, which bounds how many rows a second it sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, bindparam, func, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from threadline.core.bulk import BulkInsert
from threadline.core.leased_queue import PENDING, RELEASED, LeasedQueue
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.senders import OutboxView, SendResult

Sent = Sequence[tuple[OutboxView, SendResult]]
_outbox = OutboxItem.__table__
_SENT_VALUES = {
    "attempts": _outbox.c.attempts + 1,
    "status": "sent",
    "sent_at": bindparam("now"),
    "next_attempt_at": None,
    "last_error": None,
    **RELEASED,
}
_MARK_SENT = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row_id"))
    .values(
        delivery_status=bindparam("delivery_status"),
        provider_id=bindparam("provider_id"),
        **_SENT_VALUES,
    )
)
_sent = (
    func.unnest(
        bindparam("ids", type_=ARRAY(Integer)),
        bindparam("provider_ids", type_=ARRAY(String)),
        bindparam("delivery_statuses", type_=ARRAY(String)),
    )
    .table_valued("row_id", "provider_id", "delivery_status")
    .render_derived(name="sent")
)
_MARK_SENT_IF_LEASED = (
    update(_outbox)
    .where(
        _outbox.c.id == _sent.c.row_id,
        _outbox.c.lease_owner == bindparam("worker_id"),
        _outbox.c.status == PENDING,
    )
    .values(
        delivery_status=_sent.c.delivery_status,
        provider_id=_sent.c.provider_id,
        **_SENT_VALUES,
    )
    .returning(_outbox.c.id)
)
"""PostgreSQL: the lease check and the update in one statement, the rows' values as arrays.
A row another worker holds locked is waited for, and its lease checked again once free."""
_INSERT_REFS = BulkInsert(
    MessageRef.__table__,
    ("channel", "external_id", "ticket_id", "message_id"),
    skip_conflicts_on=("channel", "external_id"),
)


def mark_sent(session: Session, queue: LeasedQueue, now: datetime, sent: Sent) -> set[int]:
    """The rows still leased to this worker become ``sent``; their ids. A row whose lease was
    lost meanwhile belongs to another worker, which records it. Each statement is compiled
    once, whatever the count."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        marked = connection.execute(
            _MARK_SENT_IF_LEASED,
            {
                "ids": [row.id for row, _ in sent],
                "provider_ids": [result.provider_id for _, result in sent],
                "delivery_statuses": [result.delivery_status for _, result in sent],
                "worker_id": queue.worker_id,
                "now": now,
            },
        )
        return set(marked.scalars())
    # SQLite: in-process, no round trip to save; the leases still held, then the update.
    held = queue.still_leased(connection, [row.id for row, _ in sent])
    if held:
        connection.execute(
            _MARK_SENT,
            [
                {
                    "row_id": row.id,
                    "provider_id": result.provider_id,
                    "delivery_status": result.delivery_status,
                    "now": now,
                }
                for row, result in sent
                if row.id in held
            ],
        )
    return held


def add_refs(session: Session, sent: Sent) -> None:
    """Recorded even for a row whose lease was lost: the message did go out, and a reply to it
    must still find its ticket."""
    _INSERT_REFS.execute(
        session.connection(),
        [
            (row.channel, result.provider_id, row.ticket_id, row.message_id)
            for row, result in sent
            if result.provider_id is not None and row.ticket_id is not None
        ],
    )


def put_off(
    session: Session, worker_id: str, now: datetime, rows: Sequence[tuple[int, float]]
) -> None:
    """Rows their destination's pace held back are due again after the wait, released, with
    no try counted, and not taken for sends that may have gone out (their claim is undone)."""
    for row_id, seconds in rows:
        session.execute(
            update(OutboxItem)
            .where(
                OutboxItem.id == row_id,
                OutboxItem.status == PENDING,
                OutboxItem.lease_owner == worker_id,
            )
            .values(
                next_attempt_at=now + timedelta(seconds=seconds),
                claims=OutboxItem.claims - 1,
                **RELEASED,
            ),
            execution_options={"synchronize_session": False},
        )
