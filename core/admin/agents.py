"""Agents who come and go: deactivated, they are assigned nothing new and told nothing, and
their open tickets go to colleagues by their department's strategy (round robin where it has
none), or are left unassigned, each with a system note saying so; activated again, they take
part as before.

It runs in the operator's transaction as a batch of the pipeline does (``BatchWork``), so the
notes and the new assignees' notifications are written exactly as the pipeline writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from threadline.core.admin.users import save_agent_settings, user_by_email
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.models import (
    AgentSettings,
    Ticket,
    User,
    ticket_assignments,
)
from threadline.core.notify import notify
from threadline.core.routing import assign, strategy_of
from threadline.core.settings import AssignmentSettings, NotificationSettings, RoutingSettings
from threadline.core.store import store_message


@dataclass(frozen=True)
class Desk:
    routing: RoutingSettings
    assignment: AssignmentSettings
    notifications: NotificationSettings
    traits: Mapping[str, ChannelTraits]


@dataclass(frozen=True)
class Handed:
    ticket_id: int
    to: int | None
    """The agent who has it now; None: left unassigned."""


def set_active(session: Session, user: User, active: bool) -> None:
    save_agent_settings(session, user.id, active=active)


def deactivate(session: Session, email: str, desk: Desk, now: datetime) -> list[Handed]:
    """What became of each of their tickets that is not closed."""
    user = user_by_email(session, email)
    set_active(session, user, False)
    held = session.scalars(
        select(Ticket)
        .join(ticket_assignments, ticket_assignments.c.ticket_id == Ticket.id)
        .where(ticket_assignments.c.user_id == user.id, Ticket.status != "closed")
        .order_by(Ticket.id)
    ).all()
    work = BatchWork(session, now)
    handed = [_hand_over(work, ticket, user, desk) for ticket in held]
    work.flush()
    return handed


def _hand_over(work: BatchWork, ticket: Ticket, user: User, desk: Desk) -> Handed:
    session = work.session
    session.execute(
        delete(ticket_assignments).where(
            ticket_assignments.c.ticket_id == ticket.id, ticket_assignments.c.user_id == user.id
        )
    )
    others = set(work.tickets.assignees(ticket.id)) - {user.id}
    successor = None
    if desk.assignment.reassign_on_deactivate and not others and ticket.department_id:
        # Handing on is asked for: a department that assigns nobody by itself goes in turn.
        strategy = strategy_of(session, ticket.department_id, desk.routing, desk.assignment)
        strategy = "round_robin" if strategy == "none" else strategy
        picked = assign(session, ticket.id, ticket.department_id, strategy, work.now)
        successor = picked[0] if picked else None
    if successor is not None:
        name = session.scalar(select(User.name).where(User.id == successor))
        text = f"Reassigned from {user.name} to {name}: {user.name} was deactivated."
    elif others:
        text = f"{user.name} was deactivated; the ticket stays with its other assignees."
    else:
        text = f"Left unassigned: {user.name} was deactivated."
    note = store_message(work, ticket, None, text, channel=None, internal=True)
    if successor is not None:
        content = f"#{ticket.id} {ticket.title}: assigned to you ({user.name} was deactivated)"
        notify(
            work,
            ticket,
            note,
            "ticket_assigned",
            content,
            {successor},
            desk.notifications,
            desk.traits,
        )
    ticket.updated_at = work.now
    return Handed(ticket.id, successor)


def choose_types(
    session: Session, email: str, choices: Mapping[str, bool], reset: bool = False
) -> dict[str, bool]:
    """The agent's own notification types after these choices (over ``[notifications]
    deliver``)."""
    user = user_by_email(session, email)
    current = session.scalar(
        select(AgentSettings.notification_types).where(AgentSettings.user_id == user.id)
    )
    chosen = {} if reset else {**(current or {}), **choices}
    save_agent_settings(session, user.id, notification_types=chosen or None)
    return chosen
