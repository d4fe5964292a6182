"""Delivery receipts: what became of a row after the provider accepted it.

Receipts arrive late, twice and out of order (Twilio posts ``sent`` after ``delivered`` now and
then), so a status only ever moves forward: queued < sent < delivered < read. ``failed`` is
terminal, and reachable only before ``delivered``: a message the recipient has got cannot fail
afterwards, so a late failure report for it is noise.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from threadline.core.models import OutboxItem
from threadline.core.models.outbox import DELIVERY_STATUSES

_ORDER = ("queued", "sent", "delivered", "read")
_PREDECESSORS = {
    **{status: _ORDER[:rank] for rank, status in enumerate(_ORDER)},
    "failed": ("queued", "sent"),
}


def advance_delivery_status(session: Session, provider_id: str, status: str) -> bool:
    """Record a receipt in the caller's transaction; False if it moved nothing (an unknown
    provider id, a stale or repeated receipt).

    One conditional UPDATE, so two receipts for the same row racing each other cannot move it
    backwards whichever commits last.
    """
    if status not in DELIVERY_STATUSES:
        raise ValueError(
            f"unknown delivery status {status!r}; use one of {', '.join(DELIVERY_STATUSES)}"
        )
    moved = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.provider_id == provider_id,
            OutboxItem.delivery_status.in_(_PREDECESSORS[status]),
        )
        .values(delivery_status=status),
        execution_options={"synchronize_session": False},
    ).rowcount
    return moved > 0
