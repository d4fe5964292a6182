"""Messages on a ticket (support schema ``messages``), their external ids and attachments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base, created_at_column


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(
            "user_id IS NOT NULL OR client_id IS NOT NULL OR is_system_message = true",
            name="author",
        ),
        Index(None, "ticket_id", "id"),
        Index(None, "client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    body: Mapped[str] = mapped_column(Text)
    is_system_message: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    channel: Mapped[str | None] = mapped_column(String(32))
    """The channel the message came in or went out on."""
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An agent's note: never delivered to the client."""


class MessageText(Base):
    """The full text a message came with (quotes, signature, forwarded mail), where it is more
    than the body stored in ``messages``: kept after the raw item is purged, in a table of its
    own since the support schema's columns are fixed."""

    __tablename__ = "message_texts"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    full_text: Mapped[str] = mapped_column(Text)


class MessageRef(Base):
    """An external id (Message-ID, Slack ``channel:ts``, Twilio SID) that belongs to a ticket.

    ``message_id`` is empty for ids a message only referenced: they still bind the ticket, so a
    reply that arrives before the message it answers threads correctly.
    """

    __tablename__ = "message_refs"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(512))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    """On a message's own id: the channel's delivery id of that message, where senders reuse
    own ids (``ThreadHints.delivery_id``), so that only a re-delivery of it is a duplicate."""
    thread_key: Mapped[str | None] = mapped_column(String(512))
    """On a chat message's own id: the thread it was written in (``ThreadHints.chat_thread``),
    where an answer to it goes."""


class Blob(Base):
    """Attachment content, stored once per sha256 however many messages carry it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at_column()


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    content_id: Mapped[str | None] = mapped_column(String(255))
    quarantined: Mapped[str | None] = mapped_column(Text)
    """Why the attachment policy holds it back: kept, but forwarded nowhere until released."""
    created_at: Mapped[datetime] = created_at_column()
