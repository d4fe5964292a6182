"""What the mail of one outbox row is made of, read from the database when it is sent.

Read at send time, not copied into the row when it was queued: the ticket's title may have
changed since, and a reply must thread to the client's latest message, which may have arrived
after the row was queued.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.channels.email import CHANNEL
from threadline.channels.email.compose import MAX_REFERENCES, Mail, MailAttachment
from threadline.core.message_files import message_files
from threadline.core.models import Client, Message, MessageRef, Ticket, User
from threadline.core.senders import OutboxView, PermanentSendError


def outgoing_mail(session: Session, item: OutboxView, recipient: str) -> Mail:
    if item.ticket_id is None:
        return _notice(session, item, recipient)
    found = session.execute(
        select(Ticket.title, Client.name)
        .join(Client, Client.id == Ticket.client_id)
        .where(Ticket.id == item.ticket_id)
    ).one_or_none()
    if found is None:
        raise PermanentSendError(f"ticket {item.ticket_id} of outbox row {item.id} is gone")
    title, client_name = found
    agent_id = item.payload.get("agent_id") if item.kind == "notification" else None
    recipient_name = _agent_name(session, agent_id) if agent_id else client_name
    return Mail(
        kind=item.kind,
        ticket_id=item.ticket_id,
        title=title,
        body=str(item.payload.get("body", "")),
        recipient=recipient,
        idempotency_key=item.idempotency_key,
        recipient_name=recipient_name,
        agent_id=agent_id,
        event=str(item.payload.get("type", "")),
        client_name=client_name,
        in_reply_to=_last_client_id(session, item.ticket_id),
        references=_references(session, item.ticket_id),
        attachments=_attachments(session, item.message_id),
    )


def _notice(session: Session, item: OutboxView, recipient: str) -> Mail:
    """A notification that concerns no single ticket (a digest): all it says is in the row."""
    if item.kind != "notification":
        raise PermanentSendError(f"outbox row {item.id} names no ticket; there is nothing to send")
    agent_id = item.payload.get("agent_id")
    return Mail(
        kind=item.kind,
        ticket_id=None,
        title=str(item.payload.get("subject", "")),
        body=str(item.payload.get("body", "")),
        recipient=recipient,
        idempotency_key=item.idempotency_key,
        recipient_name=_agent_name(session, agent_id) if agent_id else "",
        event=str(item.payload.get("type", "")),
    )


def _agent_name(session: Session, agent_id: int) -> str:
    return session.scalar(select(User.name).where(User.id == agent_id)) or ""


def _last_client_id(session: Session, ticket_id: int) -> str | None:
    """The own Message-ID of the client's latest mail. Our notifications about that message
    are refs of it too, recorded later: the lowest ref id is the client's own."""
    return session.scalar(
        select(MessageRef.external_id)
        .join(Message, Message.id == MessageRef.message_id)
        .where(
            Message.ticket_id == ticket_id,
            Message.client_id.is_not(None),
            Message.channel == CHANNEL,
            MessageRef.channel == CHANNEL,
        )
        .order_by(Message.id.desc(), MessageRef.id)
        .limit(1)
    )


def _references(session: Session, ticket_id: int) -> tuple[str, ...]:
    """The ticket's latest ids, oldest first; those of internal notes stay inside the desk."""
    ids = session.scalars(
        select(MessageRef.external_id)
        .outerjoin(Message, Message.id == MessageRef.message_id)
        .where(
            MessageRef.ticket_id == ticket_id,
            MessageRef.channel == CHANNEL,
            Message.is_internal.is_not(True),
        )
        .order_by(MessageRef.id.desc())
        .limit(MAX_REFERENCES)
    ).all()
    return tuple(reversed(ids))


def _attachments(session: Session, message_id: int | None) -> tuple[MailAttachment, ...]:
    return tuple(MailAttachment(*file) for file in message_files(session, message_id))
