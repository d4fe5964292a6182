"""What the scheduled jobs keep: whose turn a ticket is (the facts its SLA clocks are computed
from), the clocks' due times, and the reminders that were sent, each unique per ticket, kind
and due time, which is what makes a reminder fire once across restarts and instances."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from threadline.core.models.base import Base, created_at_column, one_of

TURN_SIDES = ("client", "agent")


class TicketTurn(Base):
    """A message that passed the turn: a client's (not automatic, not a note) asks the agents,
    an agent's public reply answers. Written by the pipeline, read by the SLA and auto-close
    jobs: an out-of-office answer is stored as the client's message, yet passes no turn."""

    __tablename__ = "ticket_turns"
    __table_args__ = (one_of("side", TURN_SIDES), Index(None, "ticket_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime())
    side: Mapped[str] = mapped_column(String(8))


class SlaTicket(Base):
    """The ticket's ``updated_at`` its clocks were last computed for: a ticket whose
    ``updated_at`` differs is computed again."""

    __tablename__ = "sla_tickets"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    seen_updated_at: Mapped[datetime] = mapped_column(DateTime())


class SlaClock(Base):
    """A running clock: one row per (ticket, target) while it runs; a clock that is paused,
    met or stopped has none."""

    __tablename__ = "sla_clocks"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(20), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(), index=True)


class Reminder(Base):
    """One row per reminder that fired: its effects are written in the transaction that
    inserts it, and the primary key lets only one transaction insert it."""

    __tablename__ = "reminders"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
