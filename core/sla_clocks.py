"""When a ticket's SLA targets fall due, from whose turn it has been (``ticket_turns``).

- **First response**: from the ticket's opening to the first public reply of an agent.
- **Next response**: from a client's message after an agent answered (the first of several in
  a row) to the agents' next public reply.
- **Resolution**: from the opening to closing, paused while the ticket waits for the client:
  from an agent's reply until the client's next message, or while its status says
  ``waiting_for_user`` (a status an agent set without a message counts from the ticket's last
  change).

A closed or unresolved ticket has no clock running. Turns pass only by messages that ask or
answer: an out-of-office answer or an internal note moves no clock. Every due time is counted
in business time of the target's calendar, and is the same however often it is computed from
the same turns: the reminders are keyed by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from threadline.core.business_time import Calendar
from threadline.core.schedule_settings import SlaTarget

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
TARGETS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
STOPPED = ("closed", "unresolved")
Turn = tuple[datetime, str]
"""When, and whose message passed it: ``client`` or ``agent``; in the order they passed."""


@dataclass(frozen=True)
class TicketClock:
    """What of a ticket the clocks read."""

    created_at: datetime
    updated_at: datetime
    status: str


def due_times(
    ticket: TicketClock, turns: Sequence[Turn], target: SlaTarget, calendar: Calendar
) -> dict[str, datetime]:
    """Target -> due time (naive UTC, whole seconds) of each clock that runs or ran out."""
    if ticket.status in STOPPED:
        return {}
    due: dict[str, datetime] = {}
    answers = [at for at, side in turns if side == "agent"]
    if target.first_response and not answers:
        due[FIRST_RESPONSE] = calendar.add(ticket.created_at, target.first_response)
    if target.next_response and answers and turns[-1][1] == "client":
        asked = next(at for at, side in turns if side == "client" and at >= answers[-1])
        due[NEXT_RESPONSE] = calendar.add(asked, target.next_response)
    if target.resolution:
        resolved = _resolution(ticket, turns, timedelta(minutes=target.resolution), calendar)
        if resolved is not None:
            due[RESOLUTION] = resolved
    return {name: at.replace(microsecond=0) for name, at in due.items()}


def _resolution(
    ticket: TicketClock, turns: Sequence[Turn], left: timedelta, calendar: Calendar
) -> datetime | None:
    """None while paused with time left."""
    running_since: datetime | None = ticket.created_at
    for at, side in turns:
        if side == "agent" and running_since is not None:
            spent = calendar.between(running_since, at)
            if spent >= left:
                break
            left -= spent
            running_since = None
        elif side == "client" and running_since is None:
            running_since = at
    else:
        waiting = ticket.status == "waiting_for_user"
        if running_since is not None and waiting:
            paused_at = max(running_since, ticket.updated_at)
            spent = calendar.between(running_since, paused_at)
            if spent < left:
                return None
        elif running_since is None:
            if waiting:
                return None
            running_since = max(ticket.updated_at, turns[-1][0])
    assert running_since is not None
    return calendar.add(running_since, left / timedelta(minutes=1))
