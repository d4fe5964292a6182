"""The rows a batch buffers until it writes them (``core/batch_writes.py``), one class per
table, so the rules that make them and the statements that write them agree on their fields.

Named tuples, their fields in the order of the insert's columns (``BulkInsert(table,
Row._fields)``): a row goes to the driver as it is, with no mapping built per row and fewer
objects for the garbage collector to scan, which a batch of thousands of rows notices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple


class MessageRow(NamedTuple):
    id: int
    ticket_id: int
    user_id: int | None
    client_id: int | None
    body: str
    is_system_message: bool
    channel: str | None
    is_internal: bool
    created_at: datetime


class MessageTextRow(NamedTuple):
    message_id: int
    full_text: str


class RefRow(NamedTuple):
    """A thread key of a ticket; ``message_id`` None: only referenced so far."""

    channel: str
    external_id: str
    ticket_id: int
    message_id: int | None
    created_at: datetime
    delivery_id: str | None
    thread_key: str | None


class RefClaim(NamedTuple):
    """A key stored as only referenced becomes the own id of a message (named as the claim's
    statement binds them)."""

    ref_channel: str
    ref_id: str
    own_message_id: int
    own_delivery_id: str | None
    own_thread_key: str | None


class NotificationRow(NamedTuple):
    user_id: int
    ticket_id: int | None
    type: str
    content: str
    created_at: datetime


class TurnRow(NamedTuple):
    ticket_id: int
    at: datetime
    side: str


class BlobRow(NamedTuple):
    sha256: str
    size: int
    content: bytes


class AttachmentRow(NamedTuple):
    message_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str | None
    quarantined: str | None = None


class OutboxRow(NamedTuple):
    idempotency_key: str
    channel: str
    kind: str
    recipient: str
    ticket_id: int | None
    message_id: int | None
    payload: dict[str, Any]
    next_attempt_at: datetime | None = None
