"""Recording a batch's sends in a few statements, whatever its size: a statement per row
would cost the dispatcher a round trip per row, which bounds how many rows a second it sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from threadline.core.db import upsert_insert
from threadline.core.leased_queue import PENDING, RELEASED, LeasedQueue
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.senders import OutboxView, SendResult

Sent = Sequence[tuple[OutboxView, SendResult]]
_outbox = OutboxItem.__table__
_MARK_SENT = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row_id"))
    .values(
        attempts=_outbox.c.attempts + 1,
        status="sent",
        delivery_status=bindparam("delivery_status"),
        provider_id=bindparam("provider_id"),
        sent_at=bindparam("now"),
        next_attempt_at=None,
        last_error=None,
        **RELEASED,
    )
)


def mark_sent(session: Session, queue: LeasedQueue, now: datetime, sent: Sent) -> set[int]:
    """The rows still leased to this worker become ``sent``; their ids. A row whose lease was
    lost meanwhile belongs to another worker, which records it. Two statements whatever the
    count, each compiled once: the leases still held (locked), then one update run for many."""
    connection = session.connection()
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
    refs = [
        {
            "channel": row.channel,
            "external_id": result.provider_id,
            "ticket_id": row.ticket_id,
            "message_id": row.message_id,
        }
        for row, result in sent
        if result.provider_id is not None and row.ticket_id is not None
    ]
    if refs:
        insert = upsert_insert(session)
        session.execute(
            insert(MessageRef).on_conflict_do_nothing(index_elements=["channel", "external_id"]),
            refs,
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
