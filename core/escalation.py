"""Escalation from the first line to the second (L1 -> L2): an agent's ``#escalate [reason]``,
and (with SLA clocks) a breached target.

The ticket goes to the L2 of the assignment rule that matches its client, in place of whoever
had it; the ticket records it (``custom_fields.escalation_level``, and an internal system note
naming who escalated and why), and the L2 side is told.
"""

from __future__ import annotations

from dataclasses import dataclass

from threadline.core.agent_roster import agent_roster
from threadline.core.assignment_rules import active_agent, rule_for, take, unassign_all
from threadline.core.batch_work import BatchWork
from threadline.core.models import Ticket
from threadline.core.settings import AssignmentSettings, RoutingSettings
from threadline.core.store import StoredMessage, store_message

SECOND_LINE = 2


@dataclass(frozen=True)
class Escalated:
    note: StoredMessage
    tell: set[int]
    """The L2 agents to notify: those assigned, else the L2 department's."""


def escalate(
    work: BatchWork,
    ticket: Ticket,
    by: str,
    reason: str,
    routing: RoutingSettings,
    assignment: AssignmentSettings,
) -> Escalated | str:
    """``by``: who escalates, as the note names them. Answers what was done, or why nothing
    could be (for the note that tells the agent)."""
    level = int((ticket.custom_fields or {}).get("escalation_level") or 1)
    if level >= SECOND_LINE:
        return "the ticket is with the second line already"
    rule = rule_for(work.written(ticket.id), ticket.client_id, assignment.rules)
    if rule is None or not rule.l2:
        return "no active [[assignment.rules]] with an l2 matches this ticket's client"
    session = work.written(ticket.id)
    if "@" in rule.l2 and active_agent(session, rule.l2) is None:
        return f"the second line, {rule.l2}, is a deactivated or unknown agent"
    unassign_all(work, ticket)
    taken = take(work, ticket, rule.l2, routing, assignment)
    ticket.custom_fields = {**(ticket.custom_fields or {}), "escalation_level": SECOND_LINE}
    ticket.updated_at = work.now
    note = store_message(
        work,
        ticket,
        None,
        f"Escalated to the second line ({rule.l2}) by {by}: {reason or 'no reason given'}",
        channel=None,
        internal=True,
    )
    tell = set(taken.assigned) or set(agent_roster(work).department_members(taken.department_id))
    return Escalated(note, tell)
