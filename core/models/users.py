"""Agents and administrators (the support schema's ``users``) and their third-party identities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import (
    Base,
    JsonDocument,
    created_at_column,
    one_of,
    updated_at_column,
)

USER_TYPES = ("administrator", "agent")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (one_of("type", USER_TYPES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(50), default="agent", server_default="agent")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class UserOAuthAccount(Base):
    __tablename__ = "user_oauth_accounts"
    __table_args__ = (UniqueConstraint("provider", "provider_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(50))
    provider_user_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()


class AgentSettings(Base):
    """What an agent chose that the support schema has no place for."""

    __tablename__ = "agent_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    notification_channel: Mapped[str | None] = mapped_column(String(32))
    """Where their notifications go; None: ``[notifications] channel``."""
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """A deactivated agent is assigned nothing new and notified of nothing."""
    notification_types: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    """Type -> whether to deliver it, over ``[notifications] deliver``."""
    time_zone: Mapped[str | None] = mapped_column(String(64))
    """Where they work (IANA name): their digest's cron is read in it; None: ``[digests]``."""
    calendar: Mapped[str | None] = mapped_column(String(100))
    """The ``[[calendars]]`` whose hours their reminders wait for; None: the ticket's."""
    digest: Mapped[str | None] = mapped_column(String(100))
    """Their digest's cron expression, or ``off``; None: ``[digests] cron``."""
    updated_at: Mapped[datetime] = updated_at_column()
