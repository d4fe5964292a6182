"""Delivery reports about mail we sent: the row they bounce is marked failed, and an address
that bounced hard gets nothing more for a while (sending on to a dead mailbox is how a desk's
mail server ends up on block lists)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from threadline.core.db import DIALECT_INSERTS
from threadline.core.delivery import advance_delivery_status
from threadline.core.external_ids import email_or_none
from threadline.core.models import Suppression
from threadline.core.normalized import Bounce

REASON_LENGTH = 1000

_UPSERT = {name: insert(Suppression) for name, insert in DIALECT_INSERTS.items()}


def record_bounces(
    session: Session,
    channel: str,
    bounces: tuple[Bounce, ...],
    suppress_for: timedelta,
    now: datetime,
) -> None:
    """A delay (4.x.x) changes nothing: the mail may still arrive. A failure (5.x.x) moves the
    bounced row's delivery status to ``failed`` and, unless ``suppress_for`` is zero, suppresses
    the address until ``now + suppress_for`` (a later bounce extends it)."""
    for bounce in bounces:
        if not bounce.permanent:
            continue
        if bounce.original_id:
            advance_delivery_status(session, bounce.original_id, "failed")
        if suppress_for <= timedelta(0):
            continue
        address = email_or_none(bounce.recipient)
        if address is None:
            continue
        reason = f"bounced {bounce.status}: {bounce.diagnostic}".strip()[:REASON_LENGTH]
        until = now + suppress_for
        statement = _UPSERT[session.connection().dialect.name].values(
            channel=channel, address=address, reason=reason, until=until, created_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["channel", "address"],
                set_={"reason": reason, "until": until},
            )
        )
