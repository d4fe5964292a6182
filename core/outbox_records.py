"""Recording a batch's sends in a few statements, whatever its size: a statement per row
would cost the dispatcher a round trip per row, which bounds how many rows a second it sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from threadline.core.db import upsert_insert
from threadline.core.leased_queue import PENDING, RELEASED
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.senders import OutboxView, SendResult

Sent = Sequence[tuple[OutboxView, SendResult]]


def mark_sent(session: Session, worker_id: str, now: datetime, sent: Sent) -> set[int]:
    """The rows still leased to ``worker_id`` become ``sent``; their ids. A row whose lease
    was lost meanwhile belongs to another worker, which records it."""
    ids = [row.id for row, _ in sent]
    by_id = OutboxItem.id
    marked = session.execute(
        update(OutboxItem)
        .where(by_id.in_(ids), OutboxItem.status == PENDING, OutboxItem.lease_owner == worker_id)
        .values(
            attempts=OutboxItem.attempts + 1,
            status="sent",
            delivery_status=case(
                {row.id: result.delivery_status for row, result in sent}, value=by_id
            ),
            provider_id=case({row.id: result.provider_id for row, result in sent}, value=by_id),
            sent_at=now,
            next_attempt_at=None,
            last_error=None,
            **RELEASED,
        )
        .returning(by_id),
        execution_options={"synchronize_session": False},
    )
    return set(marked.scalars())


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
