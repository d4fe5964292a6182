"""What a stored message sets in motion, written in the same transaction (transactional outbox).

- An agent's public reply goes to the client on the channel the client last wrote from, unless
  it was written where the client reads along.
- A client's message notifies the ticket's assignees, else its department's agents, else every
  agent: a notification row each, and an outbox row to deliver it on the channel the agent
  chose (``agent_settings``), else on ``[notifications] channel``. A notification mail carries
  a Reply-To token bound to (ticket, agent) so the agent can answer from their inbox.
- A new ticket may be acknowledged to the client (off by default), in words stored on the
  ticket as a system message.
- Where a channel keeps the agents a feed of every ticket (``PipelineSettings.feeds``), the
  client's messages, and agents' replies written elsewhere, are posted there too.

Idempotency keys name the cause (message, notification, ticket) so that re-handling an item
queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.external_ids import matching_types
from threadline.core.identity import Author
from threadline.core.models import ClientExternalId, Message, Ticket
from threadline.core.notify import notify, payload, ticket_agents
from threadline.core.outbox import Kind, Outgoing
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
    agents = ticket_agents(work, event.ticket)
    queued += notify(
        work, event.ticket, event.message, kind, content, agents, notifications, traits
    )
    if event.created_ticket and event.acknowledge:
        ticket = event.ticket
        text = acknowledgement(ticket)
        told = store_message(work, ticket, None, text, channel=event.channel, internal=False)
        work.writes.outbox(
            Outgoing(
                channel=event.channel,
                kind="acknowledgement",
                recipient=event.author.address,
                payload=payload(ticket, told),
                idempotency_key=f"ack:{ticket.id}",
                ticket_id=ticket.id,
                message_id=told.id,
            )
        )
        queued += 1
    return queued


def acknowledgement(ticket: Ticket) -> str:
    """What a client is told when their message opens a ticket, on any channel; stored on
    the ticket as a system message, so agents see it too. A chat message's title is the
    message itself: it is not echoed back."""
    return (
        f"Thank you for your message. It is now ticket #{ticket.id}, and an agent will answer "
        "it soon. To add to it, reply to this message."
    )


def _reply_to_client(work: BatchWork, event: FanOut, traits: Mapping[str, ChannelTraits]) -> int:
    """Rare next to client messages, so it reads the flushed tables rather than caches."""
    ticket = event.ticket
    address = client_address(work.flush(), ticket, traits)
    if isinstance(address, str):
        note = f"Reply not delivered: {address}."
        store_message(work, ticket, None, note, channel=None, internal=True)
        return 0
    key = f"reply:{event.message.id}"
    work.writes.outbox(_outgoing(event, address.channel, "reply", address.recipient, key))
    return 1


@dataclass(frozen=True)
class ClientAddress:
    channel: str
    recipient: str


def client_address(
    session: Session, ticket: Ticket, traits: Mapping[str, ChannelTraits]
) -> ClientAddress | str:
    """Where the desk writes to the ticket's client: the channel they last wrote from, at
    their id of the type that channel reaches clients at. Else why it cannot, in words for a
    note ("the client has no email address"). Auto-close's notice goes there too."""
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
        return "the client has written on no channel it could go out on"
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
        return f"the client has no {channel} address"
    return ClientAddress(channel, recipient)


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
