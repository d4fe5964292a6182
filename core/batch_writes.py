"""The append-only writes of one batch, buffered and sent in a few multi-row statements.

The batch's rules add rows as they go (messages, refs, notifications, outbox rows, attachments
and their blobs, new tickets as ORM objects the rules change freely until written); :meth:`flush`
writes them all in foreign-key order, one statement per table, whatever the batch's size.
"""

from __future__ import annotations

from operator import attrgetter

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, make_transient_to_detached

from threadline.core.bulk import BulkInsert
from threadline.core.models import (
    Attachment,
    Blob,
    Message,
    MessageRef,
    MessageText,
    Notification,
    Ticket,
    TicketTurn,
)
from threadline.core.outbox import Outgoing, insert_outbox_rows, outbox_row
from threadline.core.rows import (
    AttachmentRow,
    BlobRow,
    MessageRow,
    MessageTextRow,
    NotificationRow,
    RefClaim,
    RefRow,
    TurnRow,
)

_INSERT_MESSAGES = BulkInsert(Message.__table__, MessageRow._fields)
_INSERT_TEXTS = BulkInsert(MessageText.__table__, MessageTextRow._fields)
_INSERT_REFS = BulkInsert(MessageRef.__table__, RefRow._fields)
_CLAIM_REFS = (
    update(MessageRef)
    .where(
        MessageRef.channel == bindparam("ref_channel"),
        MessageRef.external_id == bindparam("ref_id"),
    )
    .values(
        message_id=bindparam("own_message_id"),
        delivery_id=bindparam("own_delivery_id"),
        thread_key=bindparam("own_thread_key"),
    )
)
_INSERT_NOTIFICATIONS = BulkInsert(Notification.__table__, NotificationRow._fields)
_INSERT_TURNS = BulkInsert(TicketTurn.__table__, TurnRow._fields)
_INSERT_ATTACHMENTS = BulkInsert(Attachment.__table__, AttachmentRow._fields)
_INSERT_BLOBS = BulkInsert(Blob.__table__, BlobRow._fields, skip_conflicts_on=("sha256",))
_TICKET_COLUMNS = [column.key for column in Ticket.__table__.columns]
_INSERT_TICKETS = BulkInsert(Ticket.__table__, _TICKET_COLUMNS)
_ticket_row = attrgetter(*_TICKET_COLUMNS)


class BatchWrites:
    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        """Tickets the batch opens, not yet written."""
        self.messages: list[MessageRow] = []
        """Messages not yet written (a count of recent messages adds them)."""
        self._texts: list[MessageTextRow] = []
        self._refs: list[RefRow] = []
        self._claims: list[RefClaim] = []
        self._notifications: list[NotificationRow] = []
        self._turns: list[TurnRow] = []
        self._outbox: list[Outgoing] = []
        self._blobs: dict[str, BlobRow] = {}
        self._attachments: list[AttachmentRow] = []

    def message(self, row: MessageRow) -> None:
        self.messages.append(row)

    def text(self, row: MessageTextRow) -> None:
        self._texts.append(row)

    def ref(self, row: RefRow) -> None:
        self._refs.append(row)

    def claim(self, row: RefClaim) -> None:
        self._claims.append(row)

    def notification(self, row: NotificationRow) -> None:
        self._notifications.append(row)

    def turn(self, row: TurnRow) -> None:
        self._turns.append(row)

    def outbox(self, outgoing: Outgoing) -> None:
        self._outbox.append(outgoing)

    def attachment(self, blob: BlobRow, row: AttachmentRow) -> None:
        """Content is stored once per digest."""
        self._blobs.setdefault(blob.sha256, blob)
        self._attachments.append(row)

    def flush(self, session: Session) -> None:
        """Write everything buffered, in foreign-key order."""
        connection = session.connection()
        if self.tickets:
            tickets = list(self.tickets.values())
            _INSERT_TICKETS.execute(connection, [_ticket_row(ticket) for ticket in tickets])
            self.tickets.clear()
            # Now persistent as they are: later changes go through the ORM's UPDATE.
            for ticket in tickets:
                make_transient_to_detached(ticket)
                session.add(ticket)
        session.flush()
        _INSERT_BLOBS.execute(connection, list(self._blobs.values()))
        for statement, rows in (
            (_INSERT_MESSAGES, self.messages),
            (_INSERT_TEXTS, self._texts),
            (_INSERT_ATTACHMENTS, self._attachments),
            (_INSERT_REFS, self._refs),
            (_INSERT_TURNS, self._turns),
        ):
            statement.execute(connection, rows)
        if self._claims:
            connection.execute(_CLAIM_REFS, [claim._asdict() for claim in self._claims])
        _INSERT_NOTIFICATIONS.execute(connection, self._notifications)
        insert_outbox_rows(connection, [outbox_row(outgoing) for outgoing in self._outbox])
        for buffer in (
            self.messages,
            self._texts,
            self._attachments,
            self._refs,
            self._turns,
            self._claims,
            self._notifications,
            self._outbox,
        ):
            buffer.clear()
        self._blobs.clear()
