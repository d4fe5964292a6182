"""Ids of the rows a batch will insert, allocated ahead so that its rules can refer to a row
before it is written (its inserts go out together at the end).

From the sequence on PostgreSQL; on SQLite after the largest id, then after this batch's own
(the batch transaction began IMMEDIATE: no other writer until it ends, and ids it leaves unused
are taken by the next batch).
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from threadline.core.models import Client, Message, Ticket

_MAX_ID = {
    table: select(func.coalesce(func.max(id_column), 0))
    for table, id_column in (
        ("tickets", Ticket.id),
        ("messages", Message.id),
        ("clients", Client.id),
    )
}
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)
_CHUNKS = {"tickets": 1, "messages": 64, "clients": 1}
"""How many ids a PostgreSQL sequence hands out at a time. A batch leaves the rest of its last
chunk unused: harmless for message ids, but ticket ids are the numbers people quote ([#N]), so
beyond the batch's reservation (:meth:`IdAllocator.reserve`) they come one at a time."""


class IdAllocator:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._ids: dict[str, list[int]] = {table: [] for table in _MAX_ID}
        """Ids allocated ahead per table, next last."""
        self._last: dict[str, int] = {}

    def next(self, table: str) -> int:
        if not self._ids[table]:
            self._allocate(table, _CHUNKS[table])
        allocated = self._last[table] = self._ids[table].pop()
        return allocated

    def take(self, table: str, count: int) -> list[int]:
        """``count`` ids in one allocation."""
        ids = self._ids[table]
        if len(ids) < count:
            self._allocate(table, count - len(ids))
        taken = [ids.pop() for _ in range(count)]
        if taken:
            self._last[table] = taken[-1]
        return taken

    def reserve(self, table: str, count: int) -> None:
        """Allocate the ids the batch is expected to need, in one go."""
        if count > 0:
            self._allocate(table, count)

    def _allocate(self, table: str, count: int) -> None:
        ids = self._ids[table]
        connection = self._session.connection()
        if connection.dialect.name == "postgresql":
            fresh = list(connection.execute(_NEXT_IDS, {"table": table, "count": count}).scalars())
        else:
            last = ids[0] if ids else self._last.get(table)
            if last is None:
                last = connection.execute(_MAX_ID[table]).scalar_one()
            fresh = list(range(last + 1, last + 1 + count))
        ids[:0] = reversed(fresh)
