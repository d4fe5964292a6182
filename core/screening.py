"""What may leave because of a message: nothing for automatic mail, nothing past a sender's
hourly limit. The message itself is always stored; screening only decides about outbound."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.identity import Author
from core.models import Message
from core.normalized import Inbound

RATE_WINDOW = timedelta(hours=1)
_RECENT = (
    select(func.count())
    .select_from(Message)
    .where(Message.client_id == bindparam("client_id"), Message.created_at > bindparam("since"))
)


def outbound_allowed(
    session: Session, inbound: Inbound, author: Author, limit: int, now: datetime
) -> bool:
    """False for auto-replies, bounces and bulk mail (answering them is how loops start) and for
    a client who already wrote ``limit`` messages within the hour (a storm)."""
    if inbound.classification.is_automatic:
        return False
    if author.kind != "client":
        return True
    recent = session.connection().execute(
        _RECENT, {"client_id": author.client_id, "since": now - RATE_WINDOW}
    )
    return recent.scalar_one() < limit
