"""Assignment rules: the first line (L1) that takes a client's new ticket and the second line
(L2) an escalation hands it to (``[[assignment.rules]]``), matched on the client's external ids
or data fields. A line is an agent (by email) or a department (its agents then by its
strategy); a deactivated agent is never assigned.

The client's ids and data are read from the database each time a ticket opens: the operator's
commands change them under a running daemon, and a ticket opens rarely next to the messages
that continue one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.external_ids import matching_types
from threadline.core.models import (
    AgentSettings,
    Client,
    ClientExternalId,
    Ticket,
    User,
    ticket_assignments,
)
from threadline.core.routing import assign, department_id, strategy_of
from threadline.core.settings import AssignmentRule, AssignmentSettings, RoutingSettings


def rule_for(
    session: Session, client_id: int, rules: list[AssignmentRule]
) -> AssignmentRule | None:
    """The first active rule that matches the client."""
    active = [rule for rule in rules if rule.active]
    if not active:
        return None
    ids = session.execute(
        select(ClientExternalId.type, ClientExternalId.value).where(
            ClientExternalId.client_id == client_id
        )
    ).all()
    data = session.scalar(select(Client.data).where(Client.id == client_id)) or {}
    for rule in active:
        if rule.client and not _matches_id(rule.client, ids):
            continue
        if any(str(data.get(field)) != value for field, value in rule.data.items()):
            continue
        return rule
    return None


def _matches_id(pattern: str, ids: list[tuple[str, str]]) -> bool:
    """Case-insensitively, as the ids are normalized; a ``phone`` pattern matches the same
    number's WhatsApp id too."""
    id_type, value_pattern = pattern.split(":", 1)
    types = matching_types(id_type.strip().lower())
    return any(
        type in types and fnmatchcase(value.lower(), value_pattern.strip().lower())
        for type, value in ids
    )


@dataclass(frozen=True)
class Taken:
    """Who a line put on the ticket: the agents assigned, and the department's agents to tell
    when none could be."""

    line: str
    assigned: list[int]
    department_id: int | None


def take(
    work: BatchWork,
    ticket: Ticket,
    line: str,
    routing: RoutingSettings,
    assignment: AssignmentSettings,
) -> Taken:
    """Put the ticket in ``line``'s hands, beside whoever has it already."""
    session, now = work.written(ticket.id), work.now
    if "@" in line:
        user_id = active_agent(session, line)
        if user_id is None:
            return Taken(line, [], None)
        _assign(work, session, ticket, user_id, now)
        return Taken(line, [user_id], None)
    department = department_id(session, line)
    ticket.department_id = department
    strategy = strategy_of(session, department, routing, assignment)
    agents = assign(session, ticket.id, department, strategy, now)
    for agent in agents:
        work.tickets.assigned(ticket.id, agent)
    return Taken(line, agents, department)


def active_agent(session: Session, email: str) -> int | None:
    return session.scalar(
        select(User.id)
        .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
        .where(User.email == email.strip().lower(), AgentSettings.active.is_not(False))
    )


def unassign_all(work: BatchWork, ticket: Ticket) -> None:
    """Take the ticket from everyone who has it."""
    session = work.written(ticket.id)
    session.execute(delete(ticket_assignments).where(ticket_assignments.c.ticket_id == ticket.id))
    work.tickets.unassigned(ticket.id)


def _assign(work: BatchWork, session: Session, ticket: Ticket, user_id: int, now: datetime) -> None:
    if user_id in work.tickets.assignees(ticket.id):
        return
    session.execute(ticket_assignments.insert().values(ticket_id=ticket.id, user_id=user_id))
    work.tickets.assigned(ticket.id, user_id)
    ticket.updated_at = now
