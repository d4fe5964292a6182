"""What channels must remember between runs, in core's tables so core need not know them: a
channel's own state by key (an IMAP folder's position), and addresses that bounced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base, JsonDocument, created_at_column, updated_at_column


class ChannelState(Base):
    """One document per (channel, key), written by that channel alone."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    updated_at: Mapped[datetime] = updated_at_column()


class Suppression(Base):
    """An address that hard-bounced: nothing is sent to it on that channel until ``until``."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime] = mapped_column(DateTime())
    created_at: Mapped[datetime] = created_at_column()
