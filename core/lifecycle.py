"""Ticket status as messages come and go.

A client's message asks the agents for something (``waiting_for_agent``), an agent's public
reply hands the turn back (``waiting_for_user``). Automatic mail (out-of-office, bounces) and
internal notes change nothing: an out-of-office answer must never reopen a ticket.
"""

from __future__ import annotations

from datetime import datetime

from threadline.core.models import Ticket


def set_status(ticket: Ticket, status: str, now: datetime) -> None:
    """The one place ``closed_at`` follows the status."""
    if status == "closed" and ticket.status != "closed":
        ticket.closed_at = now
    elif status != "closed":
        ticket.closed_at = None
    ticket.status = status
    ticket.updated_at = now


def on_message(
    ticket: Ticket, *, from_client: bool, internal: bool, automatic: bool, now: datetime
) -> None:
    """A reply inside the reopen window reopens a closed ticket; the threader has already sent
    later ones to a new ticket."""
    ticket.updated_at = now
    if internal or automatic:
        return
    set_status(ticket, "waiting_for_agent" if from_client else "waiting_for_user", now)
