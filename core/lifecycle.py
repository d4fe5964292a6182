"""Ticket status and priority as messages come and go.

A new ticket is ``open`` until an agent acts on it (a public reply, an assignment, a status
change): the tools that list new tickets find it there, however often the client writes
meanwhile. After that a client's message asks the agents for something
(``waiting_for_agent``), an agent's public reply hands the turn back (``waiting_for_user``).
Automatic mail (out-of-office, bounces) and internal notes change nothing: an out-of-office
answer must never reopen a ticket. A priority the client's message carries only ever raises
the ticket's.
"""

from __future__ import annotations

from datetime import datetime

from threadline.core.models import Ticket
from threadline.core.models.tickets import TICKET_PRIORITIES


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
    if not from_client:
        set_status(ticket, "waiting_for_user", now)
    elif ticket.status != "open":
        set_status(ticket, "waiting_for_agent", now)


def agent_acted(ticket: Ticket, now: datetime) -> None:
    """An agent took a new ticket on (assigned it) without answering yet: it is no longer
    new, and waits for them."""
    if ticket.status == "open":
        set_status(ticket, "waiting_for_agent", now)


def raise_priority(ticket: Ticket, priority: str | None) -> None:
    rank = TICKET_PRIORITIES.index
    if priority in TICKET_PRIORITIES and rank(priority) > rank(ticket.priority or "medium"):
        ticket.priority = priority
