"""How many messages each client wrote lately, for screening's storm limit
(``core/screening.py``): counted for every client the batch met in one query at the first
question, then kept current as the batch adds messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from threadline.core.batch_writes import BatchWrites
from threadline.core.known_senders import KnownSenders
from threadline.core.models import Message
from threadline.core.rows import MessageRow

_RECENT = (
    select(Message.client_id, func.count())
    .where(
        Message.client_id.in_(bindparam("ids", expanding=True)),
        Message.created_at > bindparam("since"),
    )
    .group_by(Message.client_id)
)


class RecentCounts:
    def __init__(self, session: Session, senders: KnownSenders, writes: BatchWrites) -> None:
        self._session = session
        self._senders = senders
        self._writes = writes
        self._counts: dict[int, int] = {}
        self._since: datetime | None = None

    def since(self, client_id: int, since: datetime) -> int:
        """Messages of the client since ``since``, counting this batch's; ``since`` is the same
        for the whole batch (its clock is), so the counts of earlier clients stay valid."""
        if self._since != since:
            self._counts, self._since = {}, since
        if client_id not in self._counts:
            wanted = {client_id} | {
                owner for owner in self._senders.client_ids() if owner not in self._counts
            }
            stored = [owner for owner in wanted if not self._senders.is_new(owner)]
            counts: dict[int, int] = (
                dict(
                    self._session.connection()
                    .execute(_RECENT, {"ids": stored, "since": since})
                    .all()
                )
                if stored
                else {}
            )
            for owner in wanted:
                self._counts[owner] = counts.get(owner, 0) + sum(
                    1
                    for row in self._writes.messages
                    if row.client_id == owner and row.created_at > since
                )
        return self._counts[client_id]

    def added(self, row: MessageRow) -> None:
        """A message the batch has just added."""
        client_id, since = row.client_id, self._since
        if client_id in self._counts and since is not None and row.created_at > since:
            self._counts[client_id] += 1
