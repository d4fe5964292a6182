"""What may leave because of a message: nothing for automatic mail, nothing past a sender's
hourly limit. The message itself is always stored; screening only decides about outbound."""

from __future__ import annotations

from datetime import timedelta

from threadline.core.batch_work import BatchWork
from threadline.core.identity import Author
from threadline.core.normalized import Inbound

RATE_WINDOW = timedelta(hours=1)


def outbound_allowed(work: BatchWork, inbound: Inbound, author: Author, limit: int) -> bool:
    """False for auto-replies, bounces and bulk mail (answering them is how loops start) and for
    a client who already wrote ``limit`` messages within the hour (a storm)."""
    if inbound.classification.is_automatic:
        return False
    if author.kind != "client" or author.client_id is None:
        return True
    return work.recent.since(author.client_id, work.now - RATE_WINDOW) < limit
