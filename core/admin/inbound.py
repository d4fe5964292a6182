"""The intake queue as an operator sees it: what is waiting or parked, why, and putting parked
items back, the way Mailman's ``unshunt`` does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Update, func, select, update
from sqlalchemy.orm import Session

from threadline.core.admin.errors import InvalidInput, NotFound
from threadline.core.leased_queue import PARKED, notify
from threadline.core.models import InboundItem
from threadline.core.models.inbound import INBOUND_STATUSES

HEAD_BYTES = 1024
"""How much of the raw item ``show`` reads: enough to recognise it, never a whole attachment."""


@dataclass(frozen=True)
class InboundSummary:
    id: int
    channel: str
    status: str
    attempts: int
    size: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    """The latest failure; for an ``ignored`` item, why it was ignored."""


@dataclass(frozen=True)
class InboundDetail:
    id: int
    channel: str
    dedup_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    message_id: int | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    meta: dict[str, Any] | None
    size: int
    head: str
    """The first ``HEAD_BYTES`` bytes as text, undecodable bytes replaced."""
    created_at: datetime
    updated_at: datetime


def list_inbound(
    session: Session, status: str | None = None, limit: int = 50
) -> list[InboundSummary]:
    """Newest first; the raw bytes stay in the database, only their size is read."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    query = select(
        InboundItem.id,
        InboundItem.channel,
        InboundItem.status,
        InboundItem.attempts,
        func.length(InboundItem.raw),
        InboundItem.created_at,
        InboundItem.next_attempt_at,
        InboundItem.last_error,
    ).order_by(InboundItem.id.desc())
    if status is not None:
        if status not in INBOUND_STATUSES:
            raise InvalidInput(
                f"unknown status {status!r}; use one of {', '.join(INBOUND_STATUSES)}"
            )
        query = query.where(InboundItem.status == status)
    return [InboundSummary(*row) for row in session.execute(query.limit(limit))]


def show_inbound(session: Session, item_id: int) -> InboundDetail:
    row = session.execute(
        select(
            InboundItem.id,
            InboundItem.channel,
            InboundItem.dedup_key,
            InboundItem.status,
            InboundItem.attempts,
            InboundItem.next_attempt_at,
            InboundItem.last_error,
            InboundItem.message_id,
            InboundItem.lease_owner,
            InboundItem.lease_expires_at,
            InboundItem.meta,
            func.length(InboundItem.raw),
            func.substr(InboundItem.raw, 1, HEAD_BYTES),
            InboundItem.created_at,
            InboundItem.updated_at,
        ).where(InboundItem.id == item_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no inbound item with id {item_id}")
    *fields, head, created_at, updated_at = row
    return InboundDetail(
        *fields, bytes(head or b"").decode("utf-8", errors="replace"), created_at, updated_at
    )


def retry_inbound(session: Session, item_id: int, now: datetime) -> None:
    """Only a parked item: a pending one is retried on its own, and a done one would be
    stored twice. The status is checked by the UPDATE itself, so an item a worker finishes
    meanwhile is not reset behind its back."""
    reset = session.execute(
        _retry_statement(now).where(InboundItem.id == item_id, InboundItem.status == PARKED)
    )
    if reset.rowcount:
        notify(session.connection(), InboundItem.__table__)
        return
    item = session.get(InboundItem, item_id)
    if item is None:
        raise NotFound(f"no inbound item with id {item_id}")
    if item.status == "pending":
        raise InvalidInput(
            f"inbound item {item_id} is pending, not parked: the processor retries it on its own"
        )
    raise InvalidInput(f"inbound item {item_id} is {item.status}; only parked items are retried")


def retry_all_parked(session: Session, now: datetime) -> int:
    """How many parked items were put back."""
    count = session.execute(_retry_statement(now).where(InboundItem.status == PARKED)).rowcount
    if count:
        notify(session.connection(), InboundItem.__table__)
    return count


def _retry_statement(now: datetime) -> Update:
    """The last error stays: it is what the operator fixed, until a new attempt replaces it."""
    return (
        update(InboundItem)
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
