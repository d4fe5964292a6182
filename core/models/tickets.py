"""Tickets (the support schema's ``tickets``), tags, and who is assigned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import (
    Base,
    JsonDocument,
    created_at_column,
    now_utc,
    one_of,
    utcnow,
)

TICKET_STATUSES = ("open", "waiting_for_user", "waiting_for_agent", "closed", "unresolved")
TICKET_PRIORITIES = ("low", "medium", "high", "urgent")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        one_of("status", TICKET_STATUSES),
        one_of("priority", TICKET_PRIORITIES),
        Index(None, "client_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(50), default="open", server_default="open")
    priority: Mapped[str] = mapped_column(String(50), default="medium", server_default="medium")
    custom_fields: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(), nullable=False, default=now_utc, server_default=utcnow()
    )
    """Set by every rule that changes a ticket, with the clock it was given (no ``onupdate``:
    a flush must not replace the time of the change with the time of the flush)."""
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


ticket_assignments = Table(
    "ticket_assignments",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

ticket_tags = Table(
    "ticket_tags",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)
