"""What the client should have got and did not is never silent.

When a reply is refused for good on the client's channel (its row parked, or the provider
reports it failed later), it goes to another channel the client is known on (a WhatsApp
client's email, when their 24-hour window has closed); where there is none, the ticket gets an
internal note saying why and its agents are told. An acknowledgement that fails gets the note
and the agents are told: the client may not be reachable there at all. Either way the ticket
says what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.external_ids import matching_types
from threadline.core.models import ClientExternalId
from threadline.core.notify import notify, ticket_agents
from threadline.core.outbox import Outgoing
from threadline.core.settings import NotificationSettings
from threadline.core.store import store_message


@dataclass(frozen=True)
class Refused:
    """The row that could not be delivered, as much of it as a fallback needs."""

    channel: str
    kind: str
    ticket_id: int | None
    message_id: int | None
    payload: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class Undelivered:
    notifications: NotificationSettings
    traits: Mapping[str, ChannelTraits]

    def __call__(self, work: BatchWork, row: Refused, reason: str) -> None:
        """Only replies fall back. A notification to an agent that fails is logged and parked:
        telling the agents about it could fail the same way, and again."""
        if row.kind not in ("reply", "acknowledgement") or row.ticket_id is None:
            return
        ticket = work.tickets.get(row.ticket_id)
        if ticket is None:
            return
        fallback = None
        if row.kind == "reply":
            fallback = self._elsewhere(work.session, ticket.client_id, row.channel)
        if fallback is not None:
            channel, recipient = fallback
            work.writes.outbox(
                Outgoing(
                    channel=channel,
                    kind="reply",
                    recipient=recipient,
                    payload=dict(row.payload),
                    idempotency_key=f"{row.idempotency_key}:instead:{channel}"[:255],
                    ticket_id=ticket.id,
                    message_id=row.message_id,
                )
            )
            note = (
                f"The reply was not delivered on {row.channel} ({reason}); it went by "
                f"{channel} to {recipient} instead."
            )
            store_message(work, ticket, None, note, channel=None, internal=True)
            return
        what = "reply" if row.kind == "reply" else "acknowledgement of the client's message"
        note = f"The {what} was not delivered on {row.channel}: {reason}"
        message = store_message(work, ticket, None, note, channel=None, internal=True)
        agents = ticket_agents(work, ticket)
        notify(
            work, ticket, message, "delivery_failed", note, agents, self.notifications, self.traits
        )

    def _elsewhere(self, session: Session, client_id: int, failed: str) -> tuple[str, str] | None:
        """The client's oldest id on a channel that delivers replies, other than ``failed`` and
        its twins (a phone number is also its WhatsApp sender)."""
        failed_type = self.traits.get(failed, ChannelTraits()).client_id_type
        ids = session.execute(
            select(ClientExternalId.type, ClientExternalId.value)
            .where(ClientExternalId.client_id == client_id)
            .order_by(ClientExternalId.id)
        ).all()
        for id_type, value in ids:
            if failed_type and id_type in matching_types(failed_type):
                continue
            for channel, traits in self.traits.items():
                if channel != failed and traits.client_id_type == id_type:
                    return channel, value
        return None
