"""Which department a new ticket goes to, and which of its agents takes it.

Nothing is cached: departments and agents change under a running daemon (the operator CLI writes
the same tables), and every answer must reflect the transaction it is asked in.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Literal

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from threadline.core.admin.departments import departments_named
from threadline.core.admin.errors import NotFound
from threadline.core.models import Ticket, User, ticket_assignments, user_departments
from threadline.core.settings import RoutingSettings

Strategy = Literal["none", "round_robin", "least_loaded"]


class RoutingError(Exception):
    """The routing configuration names a department the database does not have."""


def check_routing(session: Session, settings: RoutingSettings) -> None:
    """Called at startup, so a misspelt department stops the daemon instead of parking mail."""
    names = [rule.department for rule in settings.rules]
    if settings.default_department:
        names.append(settings.default_department)
    _department_ids(session, names)


def route(session: Session, receiving_address: str | None, settings: RoutingSettings) -> int | None:
    """Addresses are matched case-insensitively because mail systems treat them so."""
    department = settings.default_department or None
    if receiving_address:
        address = receiving_address.strip().lower()
        for rule in settings.rules:
            if fnmatchcase(address, rule.match.lower()):
                department = rule.department
                break
    if department is None:
        return None
    return _department_ids(session, [department])[0]


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
    Least loaded counts tickets not closed and breaks ties in round-robin order."""
    last = func.coalesce(func.max(ticket_assignments.c.ticket_id), 0)
    query = (
        select(User.id)
        .join(user_departments, user_departments.c.user_id == User.id)
        .outerjoin(ticket_assignments, ticket_assignments.c.user_id == User.id)
        .where(user_departments.c.department_id == department_id, User.type == "agent")
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


def _department_ids(session: Session, names: list[str]) -> list[int]:
    try:
        return [department.id for department in departments_named(session, names)]
    except NotFound as error:
        raise RoutingError(
            f"[routing] names an {error}; add it with `threadline departments add NAME` "
            "or correct the rule"
        ) from None
