"""The files a stored message carries, content included, as a channel's sender attaches them to
what it sends (a mail's parts, a Slack upload)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.models import Attachment, Blob


class MessageFile(NamedTuple):
    filename: str
    content_type: str
    content: bytes


def message_files(session: Session, message_id: int | None) -> tuple[MessageFile, ...]:
    """In the order they came; none for no message. Files the attachment policy holds back
    are forwarded nowhere."""
    if message_id is None:
        return ()
    rows = session.execute(
        select(Attachment.filename, Attachment.content_type, Blob.content)
        .join(Blob, Blob.sha256 == Attachment.sha256)
        .where(Attachment.message_id == message_id, Attachment.quarantined.is_(None))
        .order_by(Attachment.id)
    ).all()
    return tuple(MessageFile(*row) for row in rows)
