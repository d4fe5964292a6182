"""What the mails of a batch of outbox rows are made of, read from the database when they are
sent: a few queries for the whole batch, not a few per row.

Read at send time, not copied into the row when it was queued: the ticket's title may have
changed since, and a reply must thread to the client's latest message, which may have arrived
after the row was queued.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from threadline.channels.email import CHANNEL
from threadline.channels.email.compose import MAX_REFERENCES, Mail, MailAttachment
from threadline.core.db import among
from threadline.core.message_files import files_of_messages
from threadline.core.models import Client, Message, MessageRef, Suppression, Ticket, User
from threadline.core.senders import OutboxView, PermanentSendError

Ready = dict[int, Mail | PermanentSendError]
"""By outbox row id: its mail, or why it cannot be sent."""


def outgoing_mails(
    session: Session, items: Sequence[tuple[OutboxView, str]], now: datetime
) -> Ready:
    """``items``: each row with its normalized recipient address; ``now`` naive UTC."""
    tickets = {item.ticket_id for item, _ in items if item.ticket_id is not None}
    agents = {
        agent
        for item, _ in items
        if item.kind == "notification" and (agent := item.payload.get("agent_id"))
    }
    titles = _titles(session, tickets)
    names = _names(session, agents)
    last_client = _last_client_ids(session, tickets)
    references = _references(session, tickets)
    files = files_of_messages(session, {i.message_id for i, _ in items if i.message_id})
    suppressed = _suppressed(session, {recipient for _, recipient in items}, now)
    ready: Ready = {}
    for item, recipient in items:
        until = suppressed.get(recipient)
        if until is not None:
            ready[item.id] = PermanentSendError(
                f"suppressed: {recipient} bounced hard; "
                f"no mail goes to it until {until:%Y-%m-%d %H:%M} UTC"
            )
            continue
        agent_id = item.payload.get("agent_id") if item.kind == "notification" else None
        if item.ticket_id is None:
            ready[item.id] = _notice(item, recipient, names.get(agent_id, ""))
            continue
        found = titles.get(item.ticket_id)
        if found is None:
            ready[item.id] = PermanentSendError(
                f"ticket {item.ticket_id} of outbox row {item.id} is gone"
            )
            continue
        title, client_name = found
        ready[item.id] = Mail(
            kind=item.kind,
            ticket_id=item.ticket_id,
            title=title,
            body=str(item.payload.get("body", "")),
            recipient=recipient,
            idempotency_key=item.idempotency_key,
            recipient_name=names.get(agent_id, "") if agent_id else client_name,
            agent_id=agent_id,
            event=str(item.payload.get("type", "")),
            client_name=client_name,
            in_reply_to=last_client.get(item.ticket_id),
            references=references.get(item.ticket_id, ()),
            attachments=tuple(
                MailAttachment(*file) for file in files.get(item.message_id or 0, ())
            ),
        )
    return ready


def _notice(item: OutboxView, recipient: str, agent_name: str) -> Mail | PermanentSendError:
    """A notification that concerns no single ticket (a digest): all it says is in the row."""
    if item.kind != "notification":
        return PermanentSendError(f"outbox row {item.id} names no ticket; there is nothing to send")
    return Mail(
        kind=item.kind,
        ticket_id=None,
        title=str(item.payload.get("subject", "")),
        body=str(item.payload.get("body", "")),
        recipient=recipient,
        idempotency_key=item.idempotency_key,
        recipient_name=agent_name,
        event=str(item.payload.get("type", "")),
    )


def _titles(session: Session, tickets: Collection[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(
        select(Ticket.id, Ticket.title, Client.name)
        .join(Client, Client.id == Ticket.client_id)
        .where(among(session, Ticket.id, tickets))
    )
    return {ticket: (title, name) for ticket, title, name in rows}


def _names(session: Session, agents: Collection[int]) -> dict[int, str]:
    rows = session.execute(select(User.id, User.name).where(among(session, User.id, agents)))
    return {agent: name or "" for agent, name in rows}


def _last_client_ids(session: Session, tickets: Collection[int]) -> dict[int, str]:
    """Each ticket's own Message-ID of the client's latest mail. Our notifications about that
    message are refs of it too, recorded later: the lowest ref id is the client's own."""
    latest = (
        select(
            Message.ticket_id,
            MessageRef.external_id,
            func.row_number()
            .over(partition_by=Message.ticket_id, order_by=(Message.id.desc(), MessageRef.id))
            .label("rank"),
        )
        .join(Message, Message.id == MessageRef.message_id)
        .where(
            among(session, Message.ticket_id, tickets),
            Message.client_id.is_not(None),
            Message.channel == CHANNEL,
            MessageRef.channel == CHANNEL,
        )
        .subquery()
    )
    rows = session.execute(
        select(latest.c.ticket_id, latest.c.external_id).where(latest.c.rank == 1)
    )
    return dict(rows.all())


def _references(session: Session, tickets: Collection[int]) -> dict[int, tuple[str, ...]]:
    """Each ticket's latest ids, oldest first; those of internal notes stay inside the desk."""
    recent = (
        select(
            MessageRef.ticket_id,
            MessageRef.id,
            MessageRef.external_id,
            func.row_number()
            .over(partition_by=MessageRef.ticket_id, order_by=MessageRef.id.desc())
            .label("rank"),
        )
        .outerjoin(Message, Message.id == MessageRef.message_id)
        .where(
            among(session, MessageRef.ticket_id, tickets),
            MessageRef.channel == CHANNEL,
            Message.is_internal.is_not(True),
        )
        .subquery()
    )
    rows = session.execute(
        select(recent.c.ticket_id, recent.c.external_id)
        .where(recent.c.rank <= MAX_REFERENCES)
        .order_by(recent.c.id)
    )
    references: dict[int, list[str]] = {}
    for ticket, external_id in rows:
        references.setdefault(ticket, []).append(external_id)
    return {ticket: tuple(ids) for ticket, ids in references.items()}


def _suppressed(
    session: Session, recipients: Collection[str], now: datetime
) -> dict[str, datetime]:
    rows = session.execute(
        select(Suppression.address, func.max(Suppression.until))
        .where(
            Suppression.channel == CHANNEL,
            among(session, Suppression.address, recipients),
            Suppression.until > now,
        )
        .group_by(Suppression.address)
    )
    return dict(rows.all())
