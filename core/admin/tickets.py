"""Tickets as an operator reads them: a filtered list, and one ticket with its conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.admin.clients import get_client
from threadline.core.admin.departments import departments_named
from threadline.core.admin.errors import InvalidInput, NotFound
from threadline.core.models import (
    Client,
    Department,
    Message,
    MessageText,
    Tag,
    Ticket,
    User,
    ticket_assignments,
)
from threadline.core.models import ticket_tags as ticket_tags_table
from threadline.core.models.tickets import TICKET_STATUSES


@dataclass(frozen=True)
class Ref:
    """Something shown by name but addressed by id."""

    id: int
    name: str


@dataclass(frozen=True)
class TicketSummary:
    id: int
    title: str
    status: str
    priority: str
    client: Ref
    department: Ref | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageView:
    id: int
    created_at: datetime
    author_kind: str
    """``client``, the user's type (``agent``, ``administrator``), or ``system``."""
    author: Ref | None
    channel: str | None
    is_internal: bool
    body: str
    full_text: str
    """Quotes, signature and forwarded mail included; the body where it said no more."""


@dataclass(frozen=True)
class TicketDetail:
    id: int
    title: str
    status: str
    priority: str
    client: Ref
    department: Ref | None
    assignees: tuple[Ref, ...]
    tags: tuple[str, ...]
    custom_fields: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    messages: tuple[MessageView, ...]


def list_tickets(
    session: Session,
    status: str | None = None,
    client_id: int | None = None,
    department: str | None = None,
    limit: int = 50,
) -> list[TicketSummary]:
    """Newest first. A filter naming a client or department that does not exist is refused
    rather than answered with an empty list that looks like 'no tickets'."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    query = (
        select(Ticket, Client.name, Department.name)
        .join(Client, Client.id == Ticket.client_id)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    if status is not None:
        if status not in TICKET_STATUSES:
            raise InvalidInput(
                f"unknown status {status!r}; use one of {', '.join(TICKET_STATUSES)}"
            )
        query = query.where(Ticket.status == status)
    if client_id is not None:
        query = query.where(Ticket.client_id == get_client(session, client_id).id)
    if department is not None:
        (found,) = departments_named(session, [department])
        query = query.where(Ticket.department_id == found.id)
    return [
        TicketSummary(
            ticket.id,
            ticket.title,
            ticket.status,
            ticket.priority,
            Ref(ticket.client_id, client_name),
            _ref(ticket.department_id, department_name),
            ticket.created_at,
            ticket.updated_at,
        )
        for ticket, client_name, department_name in session.execute(query.limit(limit))
    ]


def show_ticket(session: Session, ticket_id: int) -> TicketDetail:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket with id {ticket_id}")
    client = get_client(session, ticket.client_id)
    department = session.get(Department, ticket.department_id) if ticket.department_id else None
    assignees = session.execute(
        select(User.id, User.name)
        .join(ticket_assignments, ticket_assignments.c.user_id == User.id)
        .where(ticket_assignments.c.ticket_id == ticket.id)
        .order_by(User.name, User.id)
    )
    tags = session.scalars(
        select(Tag.name)
        .join(ticket_tags_table, ticket_tags_table.c.tag_id == Tag.id)
        .where(ticket_tags_table.c.ticket_id == ticket.id)
        .order_by(Tag.name)
    )
    return TicketDetail(
        ticket.id,
        ticket.title,
        ticket.status,
        ticket.priority,
        Ref(client.id, client.name),
        _ref(ticket.department_id, department.name if department else None),
        tuple(Ref(user_id, name) for user_id, name in assignees),
        tuple(tags),
        ticket.custom_fields,
        ticket.created_at,
        ticket.updated_at,
        ticket.closed_at,
        _messages(session, ticket.id),
    )


def _messages(session: Session, ticket_id: int) -> tuple[MessageView, ...]:
    rows = session.execute(
        select(Message, User, Client, MessageText.full_text)
        .outerjoin(User, User.id == Message.user_id)
        .outerjoin(Client, Client.id == Message.client_id)
        .outerjoin(MessageText, MessageText.message_id == Message.id)
        .where(Message.ticket_id == ticket_id)
        .order_by(Message.created_at, Message.id)
    )
    return tuple(
        MessageView(
            message.id,
            message.created_at,
            *_author(message, user, client),
            message.channel,
            message.is_internal,
            message.body,
            full_text or message.body,
        )
        for message, user, client, full_text in rows
    )


def _author(message: Message, user: User | None, client: Client | None) -> tuple[str, Ref | None]:
    if not message.is_system_message:
        if user is not None:
            return user.type, Ref(user.id, user.name)
        if client is not None:
            return "client", Ref(client.id, client.name)
    return "system", None


def _ref(id: int | None, name: str | None) -> Ref | None:
    return Ref(id, name) if id is not None and name is not None else None
