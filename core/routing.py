"""Which department a new ticket goes to, and which of its agents takes it.

Nothing is cached: departments and agents change under a running daemon (the operator CLI writes
the same tables), and every answer must reflect the transaction it is asked in.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import NamedTuple

from sqlalchemy import case, func, insert, select, true
from sqlalchemy.orm import Session

from threadline.core.admin.departments import departments_named
from threadline.core.admin.errors import NotFound
from threadline.core.models import (
    AgentSettings,
    Department,
    Ticket,
    User,
    ticket_assignments,
    user_departments,
)
from threadline.core.settings import AssignmentSettings, RoutingSettings, Strategy


class RoutingError(Exception):
    """The routing configuration names a department the database does not have."""


class Routed(NamedTuple):
    department_id: int | None
    priority: str | None
    """The matching rule's, if it sets one."""


def check_routing(
    session: Session, settings: RoutingSettings, assignment: AssignmentSettings
) -> None:
    """Called at startup, so a misspelt department or agent stops the daemon instead of
    parking mail."""
    names = [rule.department for rule in settings.rules if rule.department]
    if settings.default_department:
        names.append(settings.default_department)
    names += list(assignment.strategies)
    lines = [line for rule in assignment.rules for line in (rule.l1, rule.l2) if line]
    names += [line for line in lines if "@" not in line]
    _department_ids(session, names)
    emails = {line.lower() for line in lines if "@" in line}
    known = set(session.scalars(select(User.email).where(User.email.in_(emails))))
    if emails - known:
        raise RoutingError(
            f"[assignment] names no user {', '.join(sorted(emails - known))}; add it with "
            "`threadline users add NAME EMAIL` or correct the rule"
        )


def strategy_of(
    session: Session, department_id: int, routing: RoutingSettings, assignment: AssignmentSettings
) -> Strategy:
    """The department's own strategy, else ``routing.assignment``."""
    if assignment.strategies:
        name = session.scalar(select(Department.name).where(Department.id == department_id))
        if name in assignment.strategies:
            return assignment.strategies[name]
    return routing.assignment


def route(session: Session, receiving_address: str | None, settings: RoutingSettings) -> Routed:
    """Addresses are matched case-insensitively because mail systems treat them so."""
    department, priority = settings.default_department, None
    if receiving_address:
        address = receiving_address.strip().lower()
        for rule in settings.rules:
            if fnmatchcase(address, rule.match.lower()):
                department = rule.department or department
                priority = rule.priority
                break
    if not department:
        return Routed(None, priority)
    return Routed(_department_ids(session, [department])[0], priority)


def assign(
    session: Session, ticket_id: int, department_id: int | None, strategy: Strategy, now: datetime
) -> list[int]:
    """Assigns at most one agent and answers who; an assignment is a change of the ticket, so it
    moves ``updated_at`` for the tools that sort by it."""
    if strategy == "none" or department_id is None:
        return []
    agent = _pick(session, department_id, strategy)
    if agent is None:
        return []
    session.execute(insert(ticket_assignments).values(ticket_id=ticket_id, user_id=agent))
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        ticket.updated_at = now
    return [agent]


def _pick(session: Session, department_id: int, strategy: Strategy) -> int | None:
    """Round robin orders by an agent's latest assignment in any department, so an agent who
    works for two departments is not handed twice the share; never-assigned agents go first.
    Least loaded counts tickets not closed and breaks ties in round-robin order. Deactivated
    agents are never picked."""
    last = func.coalesce(func.max(ticket_assignments.c.ticket_id), 0)
    query = (
        select(User.id)
        .join(user_departments, user_departments.c.user_id == User.id)
        .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
        .outerjoin(ticket_assignments, ticket_assignments.c.user_id == User.id)
        .where(
            user_departments.c.department_id == department_id,
            User.type == "agent",
            func.coalesce(AgentSettings.active, true()),
        )
        .group_by(User.id)
    )
    if strategy == "round_robin":
        order = (last, User.id)
    elif strategy == "least_loaded":
        open_tickets = func.count(case((Ticket.status != "closed", Ticket.id)))
        query = query.outerjoin(Ticket, Ticket.id == ticket_assignments.c.ticket_id)
        order = (open_tickets, last, User.id)
    else:
        raise ValueError(f"unknown assignment strategy {strategy!r}")
    return session.scalar(query.order_by(*order).limit(1))


def department_id(session: Session, name: str) -> int:
    return _department_ids(session, [name])[0]


def _department_ids(session: Session, names: list[str]) -> list[int]:
    try:
        return [department.id for department in departments_named(session, names)]
    except NotFound as error:
        raise RoutingError(
            f"[routing] names an {error}; add it with `threadline departments add NAME` "
            "or correct the rule"
        ) from None
