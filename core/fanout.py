"""What a stored message sets in motion, written in the same transaction (transactional outbox).

- An agent's public reply goes to the client on the channel the client last wrote from.
- A client's message notifies the ticket's assignees, else its department's agents, else every
  agent: a notification row each, and an outbox row to deliver it by mail. The mail carries a
  Reply-To token bound to (ticket, agent) so the agent can answer from their inbox.
- A new ticket may be acknowledged to the client (off by default).

Idempotency keys name the cause (message, notification, ticket) so that re-handling an item
queues nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.orm import Session

from core.external_ids import matching_types
from core.identity import Author
from core.models import (
    ClientExternalId,
    Message,
    Notification,
    Ticket,
    User,
    ticket_assignments,
    user_departments,
)
from core.outbox import Outgoing, enqueue_all
from core.store import StoredMessage, store_message

# Built once: constructing statements costs more than running them on the hot path.
_AGENTS = (
    select(
        User.id,
        User.email,
        exists()
        .where(
            ticket_assignments.c.ticket_id == bindparam("ticket_id"),
            ticket_assignments.c.user_id == User.id,
        )
        .label("assigned"),
        exists()
        .where(
            user_departments.c.department_id == bindparam("department_id"),
            user_departments.c.user_id == User.id,
        )
        .label("in_department"),
    )
    .where(User.type == "agent")
    .order_by(User.id)
)

_INSERT_NOTIFICATION = insert(Notification).returning(Notification.id, Notification.user_id)

NOTIFICATION_CHANNEL = "email"
"""Agents are users with an email address; their notifications go out by mail."""


@dataclass(frozen=True)
class FanOut:
    ticket: Ticket
    message: StoredMessage
    author: Author
    channel: str
    created_ticket: bool
    acknowledge: bool


def fan_out(session: Session, event: FanOut) -> int:
    """Queue everything the message causes; answers how many outbox rows were added."""
    if event.author.kind == "agent":
        return 0 if event.message.is_internal else _reply_to_client(session, event)
    queued = _notify_agents(session, event)
    if event.created_ticket and event.acknowledge:
        queued += _queue(
            session,
            Outgoing(
                channel=event.channel,
                kind="acknowledgement",
                recipient=event.author.address,
                payload=_payload(event),
                idempotency_key=f"ack:{event.ticket.id}",
                ticket_id=event.ticket.id,
                message_id=event.message.id,
            ),
        )
    return queued


def _reply_to_client(session: Session, event: FanOut) -> int:
    ticket = event.ticket
    channel = session.scalar(
        select(Message.channel)
        .where(
            Message.ticket_id == ticket.id,
            Message.client_id.is_not(None),
            Message.channel.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    channel = channel or NOTIFICATION_CHANNEL
    recipient = session.scalar(
        select(ClientExternalId.value)
        .where(
            ClientExternalId.client_id == ticket.client_id,
            ClientExternalId.type.in_(matching_types(channel)),
        )
        .order_by(ClientExternalId.id)
        .limit(1)
    )
    if recipient is None:
        store_message(
            session,
            ticket,
            None,
            f"Reply not delivered: the client has no {channel} address.",
            channel=None,
            internal=True,
            now=event.message.created_at,
        )
        return 0
    return _queue(
        session,
        Outgoing(
            channel=channel,
            kind="reply",
            recipient=recipient,
            payload=_payload(event),
            idempotency_key=f"reply:{event.message.id}",
            ticket_id=ticket.id,
            message_id=event.message.id,
        ),
    )


def _notify_agents(session: Session, event: FanOut) -> int:
    ticket = event.ticket
    agents = _agents_to_notify(session, ticket)
    if not agents:
        return 0
    kind = "ticket_created" if event.created_ticket else "client_replied"
    content = f"{event.author.address}: {ticket.title}"
    created = session.connection().execute(
        _INSERT_NOTIFICATION,
        [
            {
                "user_id": user_id,
                "ticket_id": ticket.id,
                "type": kind,
                "content": content,
                "created_at": event.message.created_at,
            }
            for user_id, _email in agents
        ],
    )
    emails = dict(agents)
    return len(
        enqueue_all(
            session,
            [
                Outgoing(
                    channel=NOTIFICATION_CHANNEL,
                    kind="notification",
                    recipient=emails[user_id],
                    payload={**_payload(event), "type": kind, "agent_id": user_id},
                    idempotency_key=f"notification:{notification_id}",
                    ticket_id=ticket.id,
                    message_id=event.message.id,
                )
                for notification_id, user_id in created
            ],
        )
    )


def _agents_to_notify(session: Session, ticket: Ticket) -> list[tuple[int, str]]:
    """The assignees, else the department's agents, else every agent: someone must hear."""
    agents = (
        session.connection()
        .execute(_AGENTS, {"ticket_id": ticket.id, "department_id": ticket.department_id})
        .all()
    )
    for chosen in (
        [row for row in agents if row.assigned],
        [row for row in agents if row.in_department],
        agents,
    ):
        if chosen:
            return [(row.id, row.email) for row in chosen]
    return []


def _payload(event: FanOut) -> dict[str, object]:
    return {
        "ticket_id": event.ticket.id,
        "message_id": event.message.id,
        "subject": event.ticket.title,
        "body": event.message.body,
    }


def _queue(session: Session, outgoing: Outgoing) -> int:
    return len(enqueue_all(session, [outgoing]))
