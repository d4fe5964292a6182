"""The unit of work of one batch of messages: its session, its one clock reading, its buffered
writes and the caches its rules read, each cache in a module of its own beside the rule that
reads it (known senders for identity, thread refs for the threader, recent counts for
screening, the batch's tickets for all of them).

Per message, the pipeline's rules would cost a dozen statements, each far dearer in SQLAlchemy
than in the database. So the batch prefetches what its messages need in a few set queries,
answers later reads from those caches *and* from the writes of earlier messages of the same
batch (a reply may follow its root in one batch), and buffers the append-only writes
(``core/batch_writes.py``) to send them in a few multi-row statements at :meth:`flush`. A batch
of one is the same code, so every rule has one implementation.

It lives for one call of the pipeline inside one transaction and caches nothing beyond it.
Clients are still inserted immediately (their unique ids settle races with other transactions);
ticket and message ids are allocated ahead (``core/id_allocation.py``), so new tickets are
buffered too, as ORM objects the rules change freely until :meth:`flush` inserts them with
their final values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy.orm import Session

from threadline.core.batch_locks import lock_batch, lock_keys
from threadline.core.batch_tickets import BatchTickets
from threadline.core.batch_writes import BatchWrites
from threadline.core.id_allocation import IdAllocator
from threadline.core.known_senders import KnownSenders
from threadline.core.recent_counts import RecentCounts
from threadline.core.rows import MessageRow
from threadline.core.thread_refs import ThreadRefs

T = TypeVar("T")


class BatchWork:
    """One batch's session, clock, caches and write buffers; see the module docstring."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        """One instant for the whole batch, so cached counts and their windows agree."""
        self.ids = IdAllocator(session)
        self.writes = BatchWrites()
        self.senders = KnownSenders(session)
        self.refs = ThreadRefs(session, self.writes, now)
        self.tickets = BatchTickets(session, self.writes, self.senders)
        self.recent = RecentCounts(session, self.senders, self.writes)
        self._memo: dict[str, object] = {}

    def prefetch(
        self,
        *,
        senders: Iterable[tuple[str, str]],
        keys: Iterable[tuple[str, str]],
        ticket_ids: Iterable[int],
    ) -> None:
        """Load in a few set queries what the batch's messages will ask for: their senders'
        ids, the refs of their thread keys, and the tickets those refs, tags and tokens name
        (with their assignees), each read after the advisory locks on what it reads
        (``core/batch_locks.py``)."""
        senders, keys = set(senders), set(keys)
        names = [f"sender:{type}:{value}" for type, value in senders]
        names += [f"ref:{channel}:{key}" for channel, key in keys]
        alone = lock_batch(self.session, names)
        self.senders.load(senders)
        self.refs.load(keys)
        wanted = set(ticket_ids) | self.refs.ticket_ids()
        if not alone:
            lock_keys(self.session, [f"ticket:{ticket_id}" for ticket_id in wanted])
        self.tickets.load(wanted)

    def memo(self, key: str, load: Callable[[Session], T]) -> T:
        """What a rule reads once per batch, loaded on first use and kept until it ends."""
        if key not in self._memo:
            self._memo[key] = load(self.session)
        return cast(T, self._memo[key])

    def add_message(self, row: MessageRow) -> None:
        """Buffer a ``messages`` row (its id from ``ids.next("messages")``)."""
        self.writes.message(row)
        self.recent.added(row)

    def tickets_merged(self, survivor_id: int, absorbed_ids: list[int]) -> None:
        """After a merge (run on flushed tables): its refs and assignees moved."""
        self.refs.merged(survivor_id, absorbed_ids)
        self.tickets.merged(survivor_id, absorbed_ids)

    def written(self, ticket_id: int) -> Session:
        """The session, with the ticket's row in the database: for a rule that writes a row
        referencing it at once."""
        return self.flush() if ticket_id in self.writes.tickets else self.session

    def flush(self) -> Session:
        """Write everything buffered; answers the session, for rules that must query tables
        with buffered rows (call it first)."""
        self.writes.flush(self.session)
        return self.session
