"""Writing what a message brings: a new ticket when it opens one, the message, its attachments
(content stored once per sha256)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from threadline.core.attachment_policy import held_because
from threadline.core.batch_work import BatchWork
from threadline.core.identity import Author
from threadline.core.models import Ticket
from threadline.core.normalized import Inbound
from threadline.core.rows import AttachmentRow, BlobRow, MessageRow, MessageTextRow
from threadline.core.settings import AttachmentSettings
from threadline.core.storable import without_nul
from threadline.core.titles import ticket_title

SENT_AT_SKEW = timedelta(minutes=15)
"""How far ahead of ours a sender's clock may run."""
SENT_AT_MAX_AGE = timedelta(days=3653)
"""Older than ten years, a date is a clock that was never set (1970, 2000), not a backlog."""


def open_ticket(
    work: BatchWork,
    inbound: Inbound,
    client_id: int,
    department_id: int | None,
    previous_ticket_id: int | None,
) -> Ticket:
    """Buffered by ``work`` with an id allocated ahead (refs, tags and replies later in the
    batch need it at once): an INSERT ... RETURNING per ticket cost more than the rest of it."""
    now = work.now
    ticket = Ticket(
        id=work.ids.next("tickets"),
        title=ticket_title(inbound),
        client_id=client_id,
        department_id=department_id,
        status="open",
        priority="medium",
        custom_fields={"previous_ticket_id": previous_ticket_id} if previous_ticket_id else None,
        created_at=now,
        updated_at=now,
        closed_at=None,
    )
    work.tickets.opened(ticket)
    return ticket


@dataclass(frozen=True)
class StoredMessage:
    id: int
    ticket_id: int
    body: str
    is_internal: bool


def sent_time(sent_at: datetime | None, accepted_at: datetime) -> datetime:
    """When a message was sent (``messages.created_at``): the time its channel gives (a mail's
    Date) where that is plausible, so a backlog drained late keeps its real times; else when it
    was accepted."""
    if sent_at is not None and (
        accepted_at - SENT_AT_MAX_AGE <= sent_at <= accepted_at + SENT_AT_SKEW
    ):
        return sent_at
    return accepted_at


def store_message(
    work: BatchWork,
    ticket: Ticket,
    author: Author | None,
    body: str,
    *,
    channel: str | None,
    internal: bool,
    sent_at: datetime | None = None,
) -> StoredMessage:
    """``author`` None is a system message: a note of the desk to its agents (``internal``),
    or what it told the client (an acknowledgement). ``sent_at`` (from :func:`sent_time`):
    none for what the desk writes now."""
    created_at = sent_at or work.now
    body = without_nul(body)
    message_id = work.ids.next("messages")
    work.add_message(
        MessageRow(
            id=message_id,
            ticket_id=ticket.id,
            user_id=author.user_id if author and author.kind == "agent" else None,
            client_id=author.client_id if author and author.kind == "client" else None,
            body=body,
            is_system_message=author is None,
            channel=channel,
            is_internal=internal,
            created_at=created_at,
        )
    )
    return StoredMessage(message_id, ticket.id, body, internal)


def store_full_text(work: BatchWork, message: StoredMessage, full_text: str) -> None:
    """Kept only where it says more than the body (quotes, a signature, a forward): a chat
    message's text, or a mail with nothing quoted, is its body already."""
    full_text = without_nul(full_text).strip()
    if full_text and full_text != message.body:
        work.writes.text(MessageTextRow(message.id, full_text))


def store_attachments(
    work: BatchWork, message: StoredMessage, inbound: Inbound, policy: AttachmentSettings
) -> list[str]:
    """Every file is kept; answers a line for each the policy holds back."""
    held = []
    for attachment in inbound.attachments:
        digest = hashlib.sha256(attachment.content).hexdigest()
        size = len(attachment.content)
        reason = held_because(attachment, policy)
        if reason is not None:
            held.append(f"{attachment.filename}: {reason}")
        work.writes.attachment(
            BlobRow(digest, size, attachment.content),
            AttachmentRow(
                message_id=message.id,
                filename=without_nul(attachment.filename)[:255],
                content_type=without_nul(attachment.content_type)[:255],
                size=size,
                sha256=digest,
                content_id=attachment.content_id,
                quarantined=reason,
            ),
        )
    return held
