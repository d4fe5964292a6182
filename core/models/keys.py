"""Keys the daemon makes for itself and every instance must share (the reply-token secret when
the configuration gives none)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base, created_at_column


class DaemonKey(Base):
    __tablename__ = "daemon_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
