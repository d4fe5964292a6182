"""Where our messages got to, as providers report it (Twilio's status callbacks).

A row's delivery status only moves forward (queued < sent < delivered < read; failed is
final), whatever order the reports arrive in: each move is one UPDATE that names the statuses it
may move from, so two reports handled at once cannot move it back either. A reply reported
failed is handled as undelivered (``core/undelivered.py``): sent another way, or the agents
are told why not.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, update

from threadline.core.batch_work import BatchWork
from threadline.core.models import OutboxItem
from threadline.core.normalized import Receipt
from threadline.core.undelivered import Refused, Undelivered

ORDER = ("queued", "sent", "delivered", "read", "failed")
FAILED = "failed"

_OUTBOX = OutboxItem.__table__
_MOVE = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.channel == bindparam("in_channel"),
        _OUTBOX.c.provider_id == bindparam("of_provider_id"),
        _OUTBOX.c.delivery_status.in_(bindparam("earlier", expanding=True)),
    )
    .values(
        delivery_status=bindparam("to_status"),
        last_error=func.coalesce(bindparam("error"), _OUTBOX.c.last_error),
    )
    .returning(
        _OUTBOX.c.kind,
        _OUTBOX.c.ticket_id,
        _OUTBOX.c.message_id,
        _OUTBOX.c.payload,
        _OUTBOX.c.idempotency_key,
    )
)


def record_receipts(
    work: BatchWork, channel: str, receipts: Sequence[Receipt], undelivered: Undelivered
) -> int:
    """How many rows moved; reports on rows we do not know, or that are further already,
    change nothing. The batch's buffered rows are never sent yet, so no report names them."""
    moved = 0
    for receipt in receipts:
        if receipt.status not in ORDER:
            continue
        failed = receipt.status == FAILED
        row = (
            work.session.connection()
            .execute(
                _MOVE,
                {
                    "in_channel": channel,
                    "of_provider_id": receipt.provider_id,
                    "earlier": list(ORDER[: ORDER.index(receipt.status)]),
                    "to_status": receipt.status,
                    "error": receipt.error or "the provider reports it failed" if failed else None,
                },
            )
            .first()
        )
        if row is None:
            continue
        moved += 1
        if failed:
            undelivered(work, Refused(channel, *row), receipt.error or "it failed")
    return moved
