"""Where in Slack a row goes: which conversation, and which thread of it.

- A reply to a Slack client goes into the thread of the client's latest message on the
  ticket (its ref keeps the thread, ``message_refs.thread_key``).
- Threads we start (a ticket's thread in the agents' channel, an agent's DM thread of a
  ticket, a client's DM when they have no thread yet) are found again from the outbox: the
  thread is the one the earliest sent row of the same ticket, recipient and purpose started.
  A row whose earlier sibling is being sent right now waits for it, so two rows that race
  still make one thread; an earlier sibling waiting for a retry does not hold the later one
  up, and joins the thread the later one started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.channels.slack import CHANNEL
from threadline.core.models import Message, MessageRef, OutboxItem
from threadline.core.senders import OutboxView

PURPOSES = {
    "reply": ("reply", "acknowledgement"),
    "acknowledgement": ("reply", "acknowledgement"),
    "notification": ("notification",),
    "feed": ("feed",),
}


@dataclass(frozen=True)
class Thread:
    conversation: str
    ts: str

    @classmethod
    def of(cls, key: str) -> Thread:
        """From a key ``channel:ts``."""
        conversation, _colon, ts = key.partition(":")
        return cls(conversation, ts)


class SiblingInFlight(Exception):
    """An earlier row of the same thread is being sent: this one waits for its thread."""


def client_thread(session: Session, ticket_id: int) -> Thread | None:
    key = session.scalar(
        select(MessageRef.thread_key)
        .join(Message, Message.id == MessageRef.message_id)
        .where(
            MessageRef.ticket_id == ticket_id,
            MessageRef.channel == CHANNEL,
            MessageRef.thread_key.is_not(None),
            Message.client_id.is_not(None),
            Message.is_internal.is_not(True),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    return Thread.of(key) if key else None


def started_thread(session: Session, item: OutboxView, now: datetime) -> Thread | None:
    """The thread a sibling row (same ticket, recipient and purpose) started; None: this row
    starts it."""
    siblings = session.execute(
        select(
            OutboxItem.id,
            OutboxItem.status,
            OutboxItem.provider_id,
            OutboxItem.lease_owner,
            OutboxItem.lease_expires_at,
        )
        .where(
            OutboxItem.channel == CHANNEL,
            OutboxItem.ticket_id == item.ticket_id,
            OutboxItem.recipient == item.recipient,
            OutboxItem.kind.in_(PURPOSES[item.kind]),
            OutboxItem.id != item.id,
        )
        .order_by(OutboxItem.id)
    ).all()
    for _id, status, provider_id, _owner, _expires in siblings:
        if status == "sent" and provider_id:
            return Thread.of(provider_id)
    if any(
        id_ < item.id and status == "pending" and owner is not None and (expires or now) > now
        for id_, status, _provider, owner, expires in siblings
    ):
        raise SiblingInFlight
    return None
