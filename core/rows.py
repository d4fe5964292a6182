"""The rows a batch buffers until it writes them (``core/batch_writes.py``), one class per
table, so the rules that make them and the statements that write them agree on their fields.

Plain dataclasses, not slotted: :func:`vars` then hands a row to the multi-row insert as the
mapping it already is, without a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class MessageRow:
    id: int
    ticket_id: int
    user_id: int | None
    client_id: int | None
    body: str
    is_system_message: bool
    channel: str | None
    is_internal: bool
    created_at: datetime


@dataclass
class RefRow:
    """A thread key of a ticket; ``message_id`` None: only referenced so far."""

    channel: str
    external_id: str
    ticket_id: int
    message_id: int | None
    created_at: datetime


@dataclass
class RefClaim:
    """A key stored as only referenced becomes the own id of a message (named as the claim's
    statement binds them)."""

    ref_channel: str
    ref_id: str
    own_message_id: int


@dataclass
class NotificationRow:
    user_id: int
    ticket_id: int
    type: str
    content: str
    created_at: datetime


@dataclass
class BlobRow:
    sha256: str
    size: int
    content: bytes


@dataclass
class AttachmentRow:
    message_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str | None


def as_mappings(rows: list[Any]) -> list[dict[str, Any]]:
    """The rows as the insert statements take them."""
    return [vars(row) for row in rows]
