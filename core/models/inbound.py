"""The durable intake queue: every raw item as it arrived, until it is processed or parked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import (
    Base,
    JsonDocument,
    created_at_column,
    one_of,
    updated_at_column,
)
from threadline.core.raw_items import INBOUND_ITEMS, UNIQUE

INBOUND_STATUSES = ("pending", "done", "ignored", "parked")


class InboundItem(Base):
    __tablename__ = INBOUND_ITEMS
    __table_args__ = (
        UniqueConstraint(*UNIQUE),
        one_of("status", INBOUND_STATUSES),
        # The processor's claim reads due items in this order: arrival order matters (a
        # ``[#N]`` reply must not be handled before the mail that opens ticket N).
        Index(None, "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(255))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    message_id: Mapped[int | None] = mapped_column()
    """The message it became. No foreign key: deleting a message (retention) would look for
    items naming it, which needs an index that every processed item would pay for; retention
    clears the link itself."""
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
