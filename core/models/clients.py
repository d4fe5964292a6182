"""The people who write in (support schema ``clients``) and the ids they write from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from threadline.core.models.base import Base, JsonDocument, created_at_column, updated_at_column


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    external_ids: Mapped[list[ClientExternalId]] = relationship(
        back_populates="client", order_by="ClientExternalId.id"
    )


class ClientExternalId(Base):
    """One normalized identifier; (type, value) is unique so one address is one client."""

    __tablename__ = "client_external_ids"
    __table_args__ = (UniqueConstraint("type", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(50))
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()

    client: Mapped[Client] = relationship(back_populates="external_ids")
