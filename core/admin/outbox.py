"""The outbox as an operator sees it: what is waiting, what was sent, what died and why, and
putting parked rows back in line once the cause is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Update, and_, or_, select, update
from sqlalchemy.orm import Session

from threadline.core.admin.errors import Conflict, InvalidInput, NotFound
from threadline.core.leased_queue import PARKED, notify
from threadline.core.models import OutboxItem
from threadline.core.models.outbox import OUTBOX_STATUSES


@dataclass(frozen=True)
class OutboxSummary:
    id: int
    status: str
    delivery_status: str
    channel: str
    kind: str
    recipient: str
    ticket_id: int | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxDetail:
    id: int
    status: str
    delivery_status: str
    channel: str
    kind: str
    recipient: str
    ticket_id: int | None
    message_id: int | None
    idempotency_key: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    provider_id: str | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    payload: dict[str, Any]


def list_outbox(
    session: Session, status: str | None = None, limit: int = 50
) -> list[OutboxSummary]:
    """Newest first."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise InvalidInput(
                f"unknown status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}"
            )
        query = query.where(OutboxItem.status == status)
    return [
        OutboxSummary(
            row.id,
            row.status,
            row.delivery_status,
            row.channel,
            row.kind,
            row.recipient,
            row.ticket_id,
            row.attempts,
            row.next_attempt_at,
            row.last_error,
            row.created_at,
        )
        for row in session.scalars(query)
    ]


def show_outbox(session: Session, outbox_id: int) -> OutboxDetail:
    row = _get(session, outbox_id)
    return OutboxDetail(
        row.id,
        row.status,
        row.delivery_status,
        row.channel,
        row.kind,
        row.recipient,
        row.ticket_id,
        row.message_id,
        row.idempotency_key,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.lease_owner,
        row.lease_expires_at,
        row.provider_id,
        row.sent_at,
        row.created_at,
        row.updated_at,
        row.payload,
    )


def retry_outbox(session: Session, outbox_id: int, now: datetime) -> None:
    """Send a parked row again, or a pending one now rather than at the end of its backoff, with a
    fresh count of attempts. ``last_error`` stays until a send succeeds, so ``outbox list`` still
    says why it was stuck.

    One conditional UPDATE: a row a dispatcher holds (leased, being sent) is refused rather than
    raced, and a sent row is never sent twice.
    """
    retried = session.execute(
        _retry(now).where(
            OutboxItem.id == outbox_id,
            or_(
                OutboxItem.status == PARKED,
                and_(
                    OutboxItem.status == "pending",
                    or_(OutboxItem.lease_expires_at.is_(None), OutboxItem.lease_expires_at <= now),
                ),
            ),
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if retried:
        notify(session.connection(), OutboxItem.__table__)
        return
    row = _get(session, outbox_id)
    if row.status == "sent":
        raise Conflict(
            f"outbox row {outbox_id} was sent at {row.sent_at:%Y-%m-%d %H:%M} UTC; "
            "threadline does not send a row twice"
        )
    raise Conflict(
        f"outbox row {outbox_id} is being sent right now by {row.lease_owner}; "
        "see `threadline outbox show` for how that ended"
    )


def retry_all_parked(session: Session, now: datetime) -> int:
    """Every parked row back in line (after fixing what parked them); how many."""
    count = session.execute(
        _retry(now).where(OutboxItem.status == PARKED),
        execution_options={"synchronize_session": False},
    ).rowcount
    if count:
        notify(session.connection(), OutboxItem.__table__)
    return count


def _retry(now: datetime) -> Update:
    return update(OutboxItem).values(
        status="pending",
        attempts=0,
        # Claims that recorded nothing are kept: a send they made may have gone out.
        claims=OutboxItem.claims - OutboxItem.attempts,
        next_attempt_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )


def _get(session: Session, outbox_id: int) -> OutboxItem:
    row = session.get(OutboxItem, outbox_id)
    if row is None:
        raise NotFound(f"no outbox row with id {outbox_id}; `threadline outbox list` shows them")
    return row
