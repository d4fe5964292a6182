"""Small processor handlers that stand in for the pipeline: they pin the processor's contract
(savepoints, retries, parking), not what the pipeline does with a message."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from threadline.core.models import Client, InboundItem, Message, Ticket
from threadline.core.outcome import Outcome, Park


def store_message(session: Session, item: InboundItem) -> Outcome:
    """A client, a ticket and a message named after the item's bytes: writes a handler makes,
    which must commit with the batch or vanish with the item's savepoint."""
    client = Client(name=item.raw.decode())
    session.add(client)
    session.flush()
    ticket = Ticket(title=item.raw.decode(), client_id=client.id)
    session.add(ticket)
    session.flush()
    message = Message(ticket_id=ticket.id, client_id=client.id, body=item.raw.decode())
    session.add(message)
    session.flush()
    return Outcome("done", message.id)


def clients_named(session: Session, name: str) -> int:
    return session.scalar(select(func.count()).where(Client.name == name)) or 0


@dataclass
class Poison:
    """Stores every item like :func:`store_message`, except those whose bytes contain
    ``marker``: it writes for them too, then raises."""

    marker: bytes
    error: Exception = field(default_factory=lambda: ValueError("cannot parse\nline two"))
    calls: int = 0

    def __call__(self, session: Session, item: InboundItem) -> Outcome:
        self.calls += 1
        if self.marker not in item.raw:
            return store_message(session, item)
        session.add(Client(name=item.raw.decode()))
        session.flush()
        raise self.error


def park(_session: Session, _item: InboundItem) -> Outcome:
    raise Park("no parser for channel 'fax'")


def ignore(_session: Session, _item: InboundItem) -> Outcome:
    return Outcome("ignored", reason="auto-reply")
