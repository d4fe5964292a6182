"""What a stored message sets in motion, written in the same transaction (transactional outbox).

- An agent's public reply goes to the client on the channel the client last wrote from, unless
  it was written where the client reads along.
- A client's message notifies the ticket's assignees, else its department's agents, else every
  agent: a notification row each, and an outbox row to deliver it on the channel the agent
  chose (``agent_settings``), else on ``[notifications] channel``. A notification mail carries
  a Reply-To token bound to (ticket, agent) so the agent can answer from their inbox.
- A new ticket may be acknowledged to the client (off by default).
- Where a channel keeps the agents a feed of every ticket (``PipelineSettings.feeds``), the
  client's messages, and agents' replies written elsewhere, are posted there too.

Idempotency keys name the cause (message, notification, ticket) so that re-handling an item
queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from threadline.core.agent_addresses import AgentAddresses, agent_addresses
from threadline.core.agent_roster import agent_roster
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.external_ids import matching_types
from threadline.core.identity import Author
from threadline.core.models import ClientExternalId, Message, Ticket
from threadline.core.outbox import Kind, Outgoing
from threadline.core.rows import NotificationRow
from threadline.core.settings import NotificationSettings
from threadline.core.store import StoredMessage, store_message


@dataclass(frozen=True)
class FanOut:
    ticket: Ticket
    message: StoredMessage
    author: Author
    channel: str
    created_ticket: bool
    acknowledge: bool
    delivered: bool = False
    """Written where the client reads along (``Inbound.in_clients_view``): not sent again."""


def fan_out(
    work: BatchWork,
    event: FanOut,
    notifications: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    feeds: Mapping[str, str] | None = None,
) -> int:
    """Queue everything the message causes; answers how many outbox rows were queued."""
    if event.message.is_internal:
        return 0
    queued = _feed(work, event, feeds or {})
    if event.author.kind == "agent":
        return queued + (0 if event.delivered else _reply_to_client(work, event, traits))
    kind = "ticket_created" if event.created_ticket else "client_replied"
    content = f"{event.author.address}: {event.ticket.title}"
    addresses = agent_addresses(work, notifications.channel, traits)
    queued += notify_agents(work, event.ticket, event.message, kind, content, addresses)
    if event.created_ticket and event.acknowledge:
        work.writes.outbox(
            _outgoing(
                event,
                event.channel,
                "acknowledgement",
                event.author.address,
                f"ack:{event.ticket.id}",
            )
        )
        queued += 1
    return queued


def _reply_to_client(work: BatchWork, event: FanOut, traits: Mapping[str, ChannelTraits]) -> int:
    """Rare next to client messages, so it reads the flushed tables rather than caches."""
    ticket = event.ticket
    session = work.flush()
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
    if channel is None:
        store_message(
            work,
            ticket,
            None,
            "Reply not delivered: the client has written on no channel it could go out on.",
            channel=None,
            internal=True,
        )
        return 0
    id_type = traits_of(traits, channel).client_id_type
    recipient = id_type and session.scalar(
        select(ClientExternalId.value)
        .where(
            ClientExternalId.client_id == ticket.client_id,
            ClientExternalId.type.in_(matching_types(id_type)),
        )
        .order_by(ClientExternalId.id)
        .limit(1)
    )
    if recipient is None:
        store_message(
            work,
            ticket,
            None,
            f"Reply not delivered: the client has no {channel} address.",
            channel=None,
            internal=True,
        )
        return 0
    work.writes.outbox(_outgoing(event, channel, "reply", recipient, f"reply:{event.message.id}"))
    return 1


def _feed(work: BatchWork, event: FanOut, feeds: Mapping[str, str]) -> int:
    """An agent's reply written in a feed is there already."""
    queued = 0
    for channel, recipient in feeds.items():
        if event.author.kind == "agent" and event.channel == channel:
            continue
        key = f"feed:{event.message.id}:{channel}"
        work.writes.outbox(_outgoing(event, channel, "feed", recipient, key))
        queued += 1
    return queued


def notify_agents(
    work: BatchWork,
    ticket: Ticket,
    message: StoredMessage,
    kind: str,
    content: str,
    addresses: AgentAddresses,
) -> int:
    """Tell the ticket's agents of ``message`` (``kind``: ``ticket_created``,
    ``client_replied``, ``delivery_failed``). The outbox key names the message and the agent,
    so no notification id is needed. An agent with no address on any channel that carries
    notifications gets the row alone."""
    queued = 0
    for user_id, email in _agents_to_notify(work, ticket):
        work.writes.notification(NotificationRow(user_id, ticket.id, kind, content, work.now))
        destination = addresses.of(user_id, email)
        if destination is None:
            continue
        channel, recipient = destination
        work.writes.outbox(
            Outgoing(
                channel=channel,
                kind="notification",
                recipient=recipient,
                payload={**payload(ticket, message), "type": kind, "agent_id": user_id},
                idempotency_key=f"notification:{message.id}:{user_id}",
                ticket_id=ticket.id,
                message_id=message.id,
            )
        )
        queued += 1
    return queued


def _agents_to_notify(work: BatchWork, ticket: Ticket) -> list[tuple[int, str]]:
    """The assignees, else the department's agents, else every agent: someone must hear."""
    roster = agent_roster(work)
    agents = roster.agents
    assigned = work.tickets.assignees(ticket.id)
    members = roster.department_members(ticket.department_id)
    for chosen in (
        [agent for agent in agents if agent[0] in assigned],
        [agent for agent in agents if agent[0] in members],
        agents,
    ):
        if chosen:
            return chosen
    return []


def _outgoing(
    event: FanOut, channel: str, kind: Kind, recipient: str, idempotency_key: str
) -> Outgoing:
    return Outgoing(
        channel=channel,
        kind=kind,
        recipient=recipient,
        payload=payload(event.ticket, event.message),
        idempotency_key=idempotency_key,
        ticket_id=event.ticket.id,
        message_id=event.message.id,
    )


def payload(ticket: Ticket, message: StoredMessage) -> dict[str, object]:
    return {
        "ticket_id": ticket.id,
        "message_id": message.id,
        "subject": ticket.title,
        "body": message.body,
    }
