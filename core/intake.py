"""Accept: the one durable step before anything is acknowledged to a sender.

An item is committed before ``accept`` returns, so an adapter that acknowledges afterwards
(SMTP 250, HTTP 200, IMAP flag) can never lose it. A repeated ``(channel, dedup_key)`` stores
nothing and answers the first item's id, so redelivery is harmless. ``threadline ingest``
accepts the same way through the driver alone (``core/driver_intake.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.bulk import BulkInsert
from threadline.core.leased_queue import notify
from threadline.core.models import InboundItem
from threadline.core.raw_items import (
    COLUMNS,
    UNIQUE,
    Accepted,
    Key,
    RawItem,
    answers,
    first_of_each_key,
    row,
)

ROWS_PER_STATEMENT = 100
"""A looked-up key binds 2 parameters: 100 keys stay under 999, the lowest variable limit
SQLite builds still ship with, and far under PostgreSQL's 65,535."""

_INSERT_ITEMS = BulkInsert(
    InboundItem.__table__, COLUMNS, skip_conflicts_on=UNIQUE, returning=("id", *UNIQUE)
)
T = TypeVar("T")


class Intake:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_accepted: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_accepted = on_accepted
        """Called after the commit with the channels of the items it stored (none for
        duplicates): what wakes the processors, and counts them."""

    def accept(self, item: RawItem) -> Accepted:
        return self.accept_many([item])[0]

    def accept_many(self, items: Sequence[RawItem]) -> list[Accepted]:
        """Store a batch in one commit; answers in the order given. A key repeated inside the
        batch is stored once, its later occurrences answered as duplicates of the first."""
        keys, first = first_of_each_key(items)
        if not first:
            return []
        with self._sessions.begin() as session:
            created = _insert_new(session, first)
            existing = _ids_of(session, [key for key in first if key not in created])
        if created and self._on_accepted is not None:
            self._on_accepted([channel for channel, _key in created])
        return answers(keys, created, existing)


def _insert_new(session: Session, items: dict[Key, RawItem]) -> dict[Key, int]:
    """Ids of the rows this call inserted; a key already stored (or being stored by a concurrent
    transaction, which PostgreSQL waits for) is skipped without an error."""
    rows = [row(key, item) for key, item in items.items()]
    connection = session.connection()
    created = {(channel, key): id_ for id_, channel, key in _INSERT_ITEMS.execute(connection, rows)}
    if created:
        notify(connection, InboundItem.__table__)
    return created


def _ids_of(session: Session, keys: list[Key]) -> dict[Key, int]:
    found: dict[Key, int] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(InboundItem.id, InboundItem.channel, InboundItem.dedup_key).where(
                tuple_(InboundItem.channel, InboundItem.dedup_key).in_(chunk)
            )
        )
        found.update({(channel, key): id_ for id_, channel, key in rows})
    return found


def _chunks(values: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), ROWS_PER_STATEMENT):
        yield values[start : start + ROWS_PER_STATEMENT]
