"""What the email channel must remember between runs: IMAP positions and suppressed addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base, created_at_column, updated_at_column


class MailboxState(Base):
    """Per mailbox: UIDVALIDITY and the last UID accepted, so ``\\Seen`` is never relied on."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = updated_at_column()


class Suppression(Base):
    """An address that hard-bounced: nothing is sent to it until ``until``."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime] = mapped_column(DateTime())
    created_at: Mapped[datetime] = created_at_column()
