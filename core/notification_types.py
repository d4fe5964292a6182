"""The kinds of notification an agent gets, and the headline each goes out under, the same on
every channel that carries them (a mail's subject, a Slack post's first words)."""

from __future__ import annotations

HEADLINES = {
    "ticket_created": "New ticket",
    "client_replied": "Client replied",
    "ticket_assigned": "Assigned to you",
    "status_changed": "Status changed",
    "note_added": "Internal note",
    "escalated": "Escalated",
    "sla_warning": "Response due soon",
    "sla_breached": "Response overdue",
    "delivery_failed": "Reply not delivered",
    "digest": "Your tickets",
    "command_failed": "Your reply was not applied",
    "stuck_items": "Stuck messages need you",
}
TYPES = tuple(HEADLINES)
ALWAYS_DELIVERED = frozenset({"command_failed"})
"""What concerns the agent's own reply: never switched off, or they would not know it was
held back."""


def headline(kind: str) -> str:
    return HEADLINES.get(kind, "Notification")
