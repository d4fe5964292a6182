"""Retention (``[retention]``): what the desk keeps no longer, removed a bounded amount per run.

- **Raw inbound bytes.** A processed item (``done`` or ``ignored``) last updated more than
  ``raw_inbound_days`` ago has its raw bytes emptied. The row stays, so its dedup key still turns
  a re-delivery away; its message keeps its text (``message_texts``). Pending and parked items
  keep their bytes: they are still to be handled, or an operator may need them.
- **Read notifications** older than ``read_notifications_days``; unread ones stay.
- **Closed tickets** closed more than ``closed_tickets_years`` ago (0: never), with everything
  that references them: their messages (with texts and attachments), refs, notifications,
  outbox rows, assignees, tags, turns, reminders and SLA rows. Inbound items of their messages
  keep their dedup keys but lose their bytes and their link.
- **Attachment contents** (``blobs``) that no attachment references any more.
- **Spent turns of paced destinations** (``send_paces``, ``core/send_pace.py``): a row per Slack
  conversation and WhatsApp sender ever sent to, of no use once its turn has passed, as the
  next send takes its turn from the present either way.

Each transaction removes at most ``batch_size`` rows of a category (of closed tickets: messages,
and at most :data:`TICKETS_PER_BATCH` tickets), each statement bounded by a ``LIMIT`` on the ids
it removes and checking its condition again, so no lock is held for long. A run does at most
``batches`` transactions per category, so a scheduler tick stays short; the rest goes next run.
Tickets go before contents, so what only their attachments held goes in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, not_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from threadline.core.batch_locks import lock_batch
from threadline.core.db import unit_of_work
from threadline.core.models import (
    Attachment,
    Blob,
    DestinationPace,
    InboundItem,
    Message,
    MessageRef,
    Notification,
    OutboxItem,
    Ticket,
)
from threadline.core.schedule_settings import RetentionSettings

BATCHES_PER_RUN = 5
"""Transactions per category in one run of the scheduled job."""
TICKETS_PER_BATCH = 500
"""Within SQLite's 999 parameters and PostgreSQL's advisory locks per batch
(``core/batch_locks.py``): the tickets of one transaction are named in its statements, and
locked."""
BLOB_GRACE = timedelta(minutes=15)
"""Contents younger than this stay, even unreferenced: they may belong to a message being
stored."""
PACE_GRACE = timedelta(minutes=5)
"""A turn that passed longer ago than this is spent: a little more than the daemons' clocks may
disagree by."""
PROCESSED = ("done", "ignored")
YEAR = timedelta(days=365.25)

_Step = Callable[[Session, int], "_Batch"]


@dataclass(frozen=True)
class _Batch:
    removed: int
    full: bool
    """It removed as much as it may: there may be more."""
    messages: int = 0


@dataclass(frozen=True)
class Removed:
    count: int
    more: bool = False
    """The run removed (or counted) all it may: the rest waits for the next run."""
    messages: int = 0
    """Of closed tickets: their messages."""


@dataclass(frozen=True)
class RetentionReport:
    raw_inbound: Removed
    read_notifications: Removed
    closed_tickets: Removed | None
    """None: closed tickets are kept for ever (``closed_tickets_years = 0``)."""
    blobs: Removed
    send_paces: Removed
    dry_run: bool

    def lines(self) -> list[str]:
        """One line per category, for an operator."""
        would = "would be " if self.dry_run else ""
        tickets = self.closed_tickets
        if tickets is None:
            closed = "closed tickets: kept (retention.closed_tickets_years is 0)"
        else:
            messages = f"{tickets.messages} message{'' if tickets.messages == 1 else 's'}"
            closed = _line("closed tickets", tickets, f"{would}deleted, with {messages}")
        return [
            _line("raw bytes of processed inbound items", self.raw_inbound, f"{would}emptied"),
            _line("read notifications", self.read_notifications, f"{would}deleted"),
            closed,
            _line("unreferenced attachment contents", self.blobs, f"{would}deleted"),
            _line("spent turns of paced destinations", self.send_paces, f"{would}deleted"),
        ]


def _line(what: str, removed: Removed, done: str) -> str:
    return f"{what}: {removed.count} {done}" + ("; more next run" if removed.more else "")


def purge(
    sessions: sessionmaker[Session],
    settings: RetentionSettings,
    now: datetime,
    *,
    dry_run: bool = False,
    batches: int | None = BATCHES_PER_RUN,
) -> RetentionReport:
    """``batches`` None: until nothing is left (each transaction still bounded). ``dry_run``
    counts, within the same bound, what a run would remove now, and removes nothing."""
    size = settings.batch_size
    raw_cutoff = now - timedelta(days=settings.raw_inbound_days)
    read_cutoff = now - timedelta(days=settings.read_notifications_days)
    closed_cutoff = (
        now - settings.closed_tickets_years * YEAR if settings.closed_tickets_years else None
    )
    grace_cutoff = now - BLOB_GRACE
    spent_before = (now - PACE_GRACE).replace(tzinfo=UTC).timestamp()
    tickets_per_batch = min(size, TICKETS_PER_BATCH)
    if dry_run:
        with sessions() as session:
            return RetentionReport(
                _count(session, _raw_ids(raw_cutoff), size, batches),
                _count(session, _read_ids(read_cutoff), size, batches),
                None
                if closed_cutoff is None
                else _count_tickets(session, closed_cutoff, tickets_per_batch, batches),
                _count(session, _blob_ids(grace_cutoff, closed_cutoff), size, batches),
                _count(session, _pace_ids(spent_before), size, batches),
                dry_run=True,
            )

    tickets = None
    if closed_cutoff is not None:
        remove = partial(_remove_tickets, cutoff=closed_cutoff, per_batch=tickets_per_batch)
        tickets = _drain(sessions, remove, size, batches)
    return RetentionReport(
        _drain(sessions, partial(_empty_raw, cutoff=raw_cutoff), size, batches),
        _drain(sessions, partial(_delete_read, cutoff=read_cutoff), size, batches),
        tickets,
        _drain(sessions, partial(_delete_blobs, grace_cutoff=grace_cutoff), size, batches),
        _drain(sessions, partial(_delete_paces, before=spent_before), size, batches),
        dry_run=False,
    )


def _drain(sessions: sessionmaker[Session], step: _Step, size: int, batches: int | None) -> Removed:
    removed = messages = runs = 0
    while batches is None or runs < batches:
        with unit_of_work(sessions) as session:
            batch = step(session, size)
        removed, messages, runs = removed + batch.removed, messages + batch.messages, runs + 1
        if not batch.full:
            return Removed(removed, False, messages)
    return Removed(removed, True, messages)


def _count(session: Session, ids: Select[tuple[object]], size: int, batches: int | None) -> Removed:
    if batches is None:
        return Removed(_rows(session, ids))
    bound = size * batches
    found = _rows(session, ids.limit(bound + 1))
    return Removed(min(found, bound), found > bound)


def _rows(session: Session, query: Select[tuple[object]]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


# Raw inbound bytes.

_item = aliased(InboundItem)


def _old_processed(item: type[InboundItem], cutoff: datetime) -> ColumnElement[bool]:
    return and_(item.status.in_(PROCESSED), item.updated_at < cutoff, func.length(item.raw) > 0)


def _raw_ids(cutoff: datetime) -> Select[tuple[object]]:
    return select(_item.id).where(_old_processed(_item, cutoff)).order_by(_item.id)


def _empty_raw(session: Session, limit: int, cutoff: datetime) -> _Batch:
    """``updated_at`` keeps the time the item was processed."""
    emptied = session.execute(
        update(InboundItem)
        .where(
            InboundItem.id.in_(_raw_ids(cutoff).limit(limit)),
            _old_processed(InboundItem, cutoff),
        )
        .values(raw=b"", updated_at=InboundItem.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return _Batch(emptied, emptied >= limit)


# Read notifications.

_notification = aliased(Notification)


def _old_read(notification: type[Notification], cutoff: datetime) -> ColumnElement[bool]:
    return and_(notification.is_read.is_(True), notification.created_at < cutoff)


def _read_ids(cutoff: datetime) -> Select[tuple[object]]:
    return (
        select(_notification.id).where(_old_read(_notification, cutoff)).order_by(_notification.id)
    )


def _delete_read(session: Session, limit: int, cutoff: datetime) -> _Batch:
    deleted = session.execute(
        delete(Notification)
        .where(Notification.id.in_(_read_ids(cutoff).limit(limit)), _old_read(Notification, cutoff))
        .execution_options(synchronize_session=False)
    ).rowcount
    return _Batch(deleted, deleted >= limit)


# Closed tickets.

_message = aliased(Message)
"""Not correlated with ``messages`` in the DELETE its ids bound."""


def _closed_before(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Ticket.status == "closed", Ticket.closed_at < cutoff)


def _closed_ids(cutoff: datetime) -> Select[tuple[object]]:
    return select(Ticket.id).where(_closed_before(cutoff)).order_by(Ticket.id)


def _count_tickets(
    session: Session, cutoff: datetime, per_batch: int, batches: int | None
) -> Removed:
    ids = _closed_ids(cutoff)
    tickets = _count(session, ids, per_batch, batches)
    if batches is not None:
        ids = ids.limit(per_batch * batches)
    messages = _rows(session, select(Message.id).where(Message.ticket_id.in_(ids)))
    return Removed(tickets.count, tickets.more, messages)


def _remove_tickets(session: Session, limit: int, cutoff: datetime, per_batch: int) -> _Batch:
    """Up to ``limit`` messages of up to ``per_batch`` tickets, then the tickets they left
    empty. The tickets are locked as a pipeline batch locks them (``core/batch_locks.py``) and
    checked again: a message threaded to one meanwhile either committed first (a reopened
    ticket stays) or finds it gone."""
    chosen = list(session.scalars(_closed_ids(cutoff).limit(per_batch)))
    if not chosen:
        return _Batch(0, False)
    lock_batch(session, [f"ticket:{ticket_id}" for ticket_id in chosen])
    ticket_ids = list(
        session.scalars(select(Ticket.id).where(Ticket.id.in_(chosen), _closed_before(cutoff)))
    )
    doomed = (
        select(_message.id)
        .where(_message.ticket_id.in_(ticket_ids))
        .order_by(_message.id)
        .limit(limit)
    )
    run = session.execute
    run(
        update(InboundItem)
        .where(InboundItem.message_id.in_(doomed))
        .values(message_id=None, raw=b"", updated_at=InboundItem.updated_at)
    )
    run(update(MessageRef).where(MessageRef.message_id.in_(doomed)).values(message_id=None))
    run(delete(OutboxItem).where(OutboxItem.message_id.in_(doomed)))
    messages = run(delete(Message).where(Message.id.in_(doomed))).rowcount
    emptied = list(
        session.scalars(
            select(Ticket.id).where(
                Ticket.id.in_(ticket_ids), ~exists().where(Message.ticket_id == Ticket.id)
            )
        )
    )
    if emptied:
        run(delete(Notification).where(Notification.ticket_id.in_(emptied)))
        run(delete(OutboxItem).where(OutboxItem.ticket_id.in_(emptied)))
        run(delete(MessageRef).where(MessageRef.ticket_id.in_(emptied)))
        run(delete(Ticket).where(Ticket.id.in_(emptied)))
    full = len(chosen) >= per_batch or messages >= limit
    return _Batch(len(emptied), full, messages)


# Attachment contents.

_blob = aliased(Blob)


def _unreferenced(
    blob: type[Blob], grace_cutoff: datetime, closed_cutoff: datetime | None = None
) -> ColumnElement[bool]:
    """``closed_cutoff``: as if the tickets it removes were gone already (a dry run's
    count)."""
    held = select(Attachment.id).where(Attachment.sha256 == blob.sha256)
    if closed_cutoff is not None:
        held = (
            held.join(Message, Message.id == Attachment.message_id)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(not_(_closed_before(closed_cutoff)))
        )
    return and_(blob.created_at < grace_cutoff, ~exists(held))


def _blob_ids(
    grace_cutoff: datetime, closed_cutoff: datetime | None = None
) -> Select[tuple[object]]:
    return (
        select(_blob.sha256)
        .where(_unreferenced(_blob, grace_cutoff, closed_cutoff))
        .order_by(_blob.sha256)
    )


def _delete_blobs(session: Session, limit: int, grace_cutoff: datetime) -> _Batch:
    """Safe against a message stored meanwhile with content already stored, whose blob insert
    (``ON CONFLICT DO NOTHING``) found this row and whose attachment follows.

    The DELETE checks ``NOT EXISTS`` itself; on PostgreSQL the ids are taken ``FOR UPDATE SKIP
    LOCKED``, so a blob whose attachment insert holds its key-share lock is skipped. Between
    that transaction's blob insert and its attachment, the foreign key makes the attachment
    wait for this DELETE and then fail: its item is handled again at once, storing the content
    anew, never left pointing at nothing. On SQLite, writers take turns."""
    ids = _blob_ids(grace_cutoff).limit(limit).with_for_update(skip_locked=True, of=_blob)
    deleted = session.execute(
        delete(Blob)
        .where(Blob.sha256.in_(ids), _unreferenced(Blob, grace_cutoff))
        .execution_options(synchronize_session=False)
    ).rowcount
    return _Batch(deleted, deleted >= limit)


# Spent turns of paced destinations.

_pace = aliased(DestinationPace)
"""Not correlated with ``send_paces`` in the DELETE its ids bound."""


def _pace_ids(before: float) -> Select[tuple[object]]:
    """``before``: Unix time, as the turns are kept."""
    return select(_pace.destination).where(_pace.next_at < before).order_by(_pace.destination)


def _delete_paces(session: Session, limit: int, before: float) -> _Batch:
    """A send taking a turn meanwhile moves the row's turn on, and the DELETE, checking its
    condition again, leaves it."""
    deleted = session.execute(
        delete(DestinationPace)
        .where(
            DestinationPace.destination.in_(_pace_ids(before).limit(limit)),
            DestinationPace.next_at < before,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return _Batch(deleted, deleted >= limit)
