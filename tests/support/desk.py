"""A small support desk written straight through the models, for tests that read tickets.

Tickets and messages have no operator command to create them (the daemon does), so tests that
list or show them build the rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from threadline.core.models import (
    Client,
    Department,
    Message,
    Tag,
    Ticket,
    User,
    ticket_assignments,
    ticket_tags,
)


@dataclass(frozen=True)
class Desk:
    client_id: int
    other_client_id: int
    agent_id: int
    department_id: int
    conversation_id: int
    """A ticket with a client message, an agent reply, an internal note and a system line."""
    quiet_id: int
    """An older ticket of the other client, closed, without messages or department."""


def build_desk(session: Session) -> Desk:
    ada = Client(name="Ada Lovelace")
    bob = Client(name="Bob")
    grace = User(name="Grace Hopper", email="grace@example.com", type="agent")
    support = Department(name="Technical Support")
    session.add_all([ada, bob, grace, support])
    session.flush()
    quiet = Ticket(
        title="Old invoice",
        client_id=bob.id,
        status="closed",
        created_at=datetime(2024, 1, 1, 9, 0),
        updated_at=datetime(2024, 1, 2, 9, 0),
        closed_at=datetime(2024, 1, 2, 9, 0),
    )
    printer = Ticket(
        title="Printer on fire",
        client_id=ada.id,
        department_id=support.id,
        status="waiting_for_user",
        priority="high",
        custom_fields={"reopened_from": 7},
        created_at=datetime(2024, 5, 1, 10, 0),
        updated_at=datetime(2024, 5, 1, 11, 0),
    )
    hardware = Tag(name="hardware")
    escalated = Tag(name="escalated")
    session.add_all([quiet, printer, hardware, escalated])
    session.flush()
    session.execute(insert(ticket_assignments), [{"ticket_id": printer.id, "user_id": grace.id}])
    session.execute(
        insert(ticket_tags),
        [{"ticket_id": printer.id, "tag_id": tag.id} for tag in (hardware, escalated)],
    )
    at = datetime(2024, 5, 1, 10, 0)
    session.add_all(
        [
            Message(
                ticket_id=printer.id,
                client_id=ada.id,
                body="It is on fire.\r\nPlease help.",
                channel="email",
                created_at=at,
            ),
            Message(
                ticket_id=printer.id,
                user_id=grace.id,
                body="Is it plugged in?",
                channel="whatsapp",
                created_at=at.replace(minute=30),
            ),
            Message(
                ticket_id=printer.id,
                user_id=grace.id,
                body="Customer seems calm.",
                is_internal=True,
                created_at=at.replace(minute=40),
            ),
            Message(
                ticket_id=printer.id,
                body="Ticket assigned to Grace Hopper",
                is_system_message=True,
                created_at=at.replace(minute=5),
            ),
        ]
    )
    session.flush()
    return Desk(ada.id, bob.id, grace.id, support.id, printer.id, quiet.id)
