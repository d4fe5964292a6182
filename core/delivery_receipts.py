"""Where our messages got to, as providers report it (Twilio's status callbacks).

A row's delivery status only moves forward (queued < sent < delivered < read; failed is
final), whatever order the reports arrive in: each move is one UPDATE that names the statuses it
may move from, so two reports handled at once cannot move it back either. A reply reported
failed is handled as undelivered (``core/undelivered.py``): sent another way, or the agents
are told why not.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from threadline.core.batch_work import BatchWork
from threadline.core.models import OutboxItem
from threadline.core.normalized import Receipt
from threadline.core.undelivered import Refused, Undelivered

ORDER = ("queued", "sent", "delivered", "read", "failed")
FAILED = "failed"


def record_receipts(
    work: BatchWork, channel: str, receipts: Sequence[Receipt], undelivered: Undelivered
) -> int:
    """How many rows moved; reports on rows we do not know, or that are further already,
    change nothing."""
    moved = 0
    session = work.flush()
    for receipt in receipts:
        if receipt.status not in ORDER:
            continue
        earlier = ORDER[: ORDER.index(receipt.status)]
        values: dict[str, object] = {"delivery_status": receipt.status}
        if receipt.status == FAILED:
            values["last_error"] = receipt.error or "the provider reports it failed"
        row = session.execute(
            update(OutboxItem)
            .where(
                OutboxItem.channel == channel,
                OutboxItem.provider_id == receipt.provider_id,
                OutboxItem.delivery_status.in_(earlier),
            )
            .values(**values)
            .returning(
                OutboxItem.kind,
                OutboxItem.ticket_id,
                OutboxItem.message_id,
                OutboxItem.payload,
                OutboxItem.idempotency_key,
            ),
            execution_options={"synchronize_session": False},
        ).first()
        if row is None:
            continue
        moved += 1
        if receipt.status == FAILED:
            undelivered(work, Refused(channel, *row), receipt.error or "it failed")
    return moved
