"""Files the attachment policy held back: listed, and released to whoever needs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.admin.errors import Conflict, NotFound
from threadline.core.batch_work import BatchWork
from threadline.core.models import Attachment, Blob, Message, Ticket
from threadline.core.store import store_message


@dataclass(frozen=True)
class HeldFile:
    id: int
    ticket_id: int
    message_id: int
    filename: str
    content_type: str
    size: int
    reason: str
    created_at: datetime


def held_files(session: Session, ticket_id: int | None = None) -> list[HeldFile]:
    query = (
        select(Attachment, Message.ticket_id)
        .join(Message, Message.id == Attachment.message_id)
        .where(Attachment.quarantined.is_not(None))
        .order_by(Attachment.id)
    )
    if ticket_id is not None:
        query = query.where(Message.ticket_id == ticket_id)
    return [
        HeldFile(
            row.id,
            ticket,
            row.message_id,
            row.filename,
            row.content_type,
            row.size,
            row.quarantined or "",
            row.created_at,
        )
        for row, ticket in session.execute(query)
    ]


def release(session: Session, attachment_id: int, now: datetime) -> tuple[str, bytes]:
    """No longer held: forwarded like any file from now on (a reply or notification sent
    later carries it); the ticket notes that it was let go. Answers its name and content."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"no attachment {attachment_id}; `threadline attachments list` shows them")
    if attachment.quarantined is None:
        raise Conflict(f"attachment {attachment_id} is not held back")
    attachment.quarantined = None
    message = session.get_one(Message, attachment.message_id)
    ticket = session.get_one(Ticket, message.ticket_id)
    work = BatchWork(session, now)
    text = f"Released from quarantine by an operator: {attachment.filename}."
    store_message(work, ticket, None, text, channel=None, internal=True)
    work.flush()
    content = session.scalars(select(Blob.content).where(Blob.sha256 == attachment.sha256)).one()
    return attachment.filename, content
