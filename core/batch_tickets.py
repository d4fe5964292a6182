"""The tickets a batch touches and who is assigned to them: the ones its tokens, tags and refs
name, read in one query, the latest ticket of each client the batch knows (what a message on a
thread-less channel continues), read in one query on first use, and the ones it opens,
buffered until the batch writes them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from threadline.core.batch_writes import BatchWrites
from threadline.core.known_senders import KnownSenders
from threadline.core.models import Ticket, ticket_assignments

_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_ASSIGNEES = select(ticket_assignments.c.ticket_id, ticket_assignments.c.user_id).where(
    ticket_assignments.c.ticket_id.in_(bindparam("ids", expanding=True))
)
_LATEST = select(Ticket).where(
    Ticket.id.in_(
        select(func.max(Ticket.id))
        .where(Ticket.client_id.in_(bindparam("client_ids", expanding=True)))
        .group_by(Ticket.client_id)
    )
)


class BatchTickets:
    def __init__(self, session: Session, writes: BatchWrites, senders: KnownSenders) -> None:
        self._session = session
        self._writes = writes
        self._senders = senders
        self._tickets: dict[int, Ticket] = {}
        """Held here, not only in the session's identity map, which lets unreferenced
        objects go."""
        self._missing: set[int] = set()
        self._assignees: dict[int, set[int]] = {}
        self._latest: dict[int, Ticket | None] = {}

    def load(self, ids: set[int]) -> None:
        """Read without autoflush, since a query never overwrites a pending change."""
        ids -= self._tickets.keys() | self._missing
        if not ids:
            return
        with self._session.no_autoflush:
            found = self._session.scalars(_TICKETS, {"ids": list(ids)}).all()
        self._tickets.update((ticket.id, ticket) for ticket in found)
        self._missing |= ids - self._tickets.keys()
        self._load_assignees({ticket.id for ticket in found})

    def _load_assignees(self, ticket_ids: set[int]) -> None:
        ticket_ids -= self._assignees.keys()
        if not ticket_ids:
            return
        for ticket_id in ticket_ids:
            self._assignees[ticket_id] = set()
        for ticket_id, user_id in self._session.connection().execute(
            _ASSIGNEES, {"ids": list(ticket_ids)}
        ):
            self._assignees[ticket_id].add(user_id)

    def get(self, ticket_id: int) -> Ticket | None:
        self.load({ticket_id})
        return self._tickets.get(ticket_id)

    def latest(self, client_id: int) -> Ticket | None:
        """The client's ticket with the highest id, among the stored and this batch's new ones.
        The first call reads them for every client the batch knows by then."""
        if client_id not in self._latest:
            self._load_latest({client_id, *self._senders.client_ids()} - self._latest.keys())
        return self._latest[client_id]

    def _load_latest(self, client_ids: set[int]) -> None:
        with self._session.no_autoflush:
            stored = self._session.scalars(_LATEST, {"client_ids": list(client_ids)}).all()
        candidates = [*stored, *self._writes.tickets.values()]
        for client_id in client_ids:
            self._latest[client_id] = None
        for ticket in candidates:
            self._tickets.setdefault(ticket.id, ticket)
            self._newest(ticket)

    def _newest(self, ticket: Ticket) -> None:
        if ticket.client_id in self._latest:
            known = self._latest[ticket.client_id]
            if known is None or known.id < ticket.id:
                self._latest[ticket.client_id] = ticket

    def opened(self, ticket: Ticket) -> None:
        """A ticket this batch opens (its id allocated ahead), inserted when the batch writes:
        found from now on (a tag read before it existed may name it), with no assignees but
        those it records itself."""
        self._writes.tickets[ticket.id] = ticket
        self._tickets[ticket.id] = ticket
        self._missing.discard(ticket.id)
        self._assignees.setdefault(ticket.id, set())
        self._newest(ticket)

    def assignees(self, ticket_id: int) -> set[int]:
        self._load_assignees({ticket_id})
        return self._assignees[ticket_id]

    def assigned(self, ticket_id: int, user_id: int) -> None:
        self._assignees.setdefault(ticket_id, set()).add(user_id)

    def unassigned(self, ticket_id: int) -> None:
        """Everyone was taken off the ticket."""
        self._assignees[ticket_id] = set()

    def merged(self, survivor_id: int, absorbed_ids: Iterable[int]) -> None:
        """After a merge: assignees moved, so they are read again."""
        for ticket_id in (survivor_id, *absorbed_ids):
            self._assignees.pop(ticket_id, None)
