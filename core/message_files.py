"""The files a stored message carries, content included, as a channel's sender attaches them to
what it sends (a mail's parts, a Slack upload)."""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.db import among
from threadline.core.models import Attachment, Blob


class MessageFile(NamedTuple):
    filename: str
    content_type: str
    content: bytes


def message_files(session: Session, message_id: int | None) -> tuple[MessageFile, ...]:
    """In the order they came; none for no message."""
    if message_id is None:
        return ()
    return files_of_messages(session, [message_id]).get(message_id, ())


def files_of_messages(
    session: Session, message_ids: Collection[int]
) -> dict[int, tuple[MessageFile, ...]]:
    """The files of each message that has any, in the order they came. Files the attachment
    policy holds back are forwarded nowhere."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Attachment.message_id, Attachment.filename, Attachment.content_type, Blob.content)
        .join(Blob, Blob.sha256 == Attachment.sha256)
        .where(
            among(session, Attachment.message_id, message_ids),
            Attachment.quarantined.is_(None),
        )
        .order_by(Attachment.id)
    )
    files: dict[int, list[MessageFile]] = {}
    for message_id, *file in rows:
        files.setdefault(message_id, []).append(MessageFile(*file))
    return {message_id: tuple(found) for message_id, found in files.items()}
