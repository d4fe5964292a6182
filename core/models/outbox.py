"""The transactional outbox: what must leave, written with the change that caused it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import (
    Base,
    JsonDocument,
    created_at_column,
    one_of,
    updated_at_column,
)

OUTBOX_STATUSES = ("pending", "sent", "parked")
DELIVERY_STATUSES = ("queued", "sent", "delivered", "read", "failed")


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        one_of("status", OUTBOX_STATUSES),
        one_of("delivery_status", DELIVERY_STATUSES),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    delivery_status: Mapped[str] = mapped_column(
        String(16), default="queued", server_default="queued"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Times a worker leased the row; more than ``attempts`` + 1 at a claim: an earlier send
    may have gone out unrecorded."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    provider_id: Mapped[str | None] = mapped_column(String(255), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class DestinationPace(Base):
    """When a destination with a pace (a Slack conversation, a WhatsApp sender) may next be
    sent to, as Unix time: a float, so the reservation's arithmetic is the same on both
    databases."""

    __tablename__ = "send_paces"

    destination: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)
