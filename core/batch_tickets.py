"""The tickets a batch touches and who is assigned to them: the ones its tokens, tags and refs
name, read in one query, and the ones it opens, buffered until the batch writes them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from threadline.core.batch_writes import BatchWrites
from threadline.core.models import Ticket, ticket_assignments

_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_ASSIGNEES = select(ticket_assignments.c.ticket_id, ticket_assignments.c.user_id).where(
    ticket_assignments.c.ticket_id.in_(bindparam("ids", expanding=True))
)
_LATEST = (
    select(Ticket)
    .where(Ticket.client_id == bindparam("client_id"))
    .order_by(Ticket.id.desc())
    .limit(1)
)


class BatchTickets:
    def __init__(self, session: Session, writes: BatchWrites) -> None:
        self._session = session
        self._writes = writes
        self._tickets: dict[int, Ticket] = {}
        """Held here, not only in the session's identity map, which lets unreferenced
        objects go."""
        self._missing: set[int] = set()
        self._assignees: dict[int, set[int]] = {}

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
        """The client's ticket with the highest id, among the stored and this batch's new ones."""
        stored = self._session.scalars(_LATEST, {"client_id": client_id}).first()
        new = [ticket for ticket in self._writes.tickets.values() if ticket.client_id == client_id]
        return max([*new, *([stored] if stored else [])], key=lambda t: t.id, default=None)

    def opened(self, ticket: Ticket) -> None:
        """A ticket this batch opens (its id allocated ahead), inserted when the batch writes:
        found from now on (a tag read before it existed may name it), with no assignees but
        those it records itself."""
        self._writes.tickets[ticket.id] = ticket
        self._tickets[ticket.id] = ticket
        self._missing.discard(ticket.id)
        self._assignees.setdefault(ticket.id, set())

    def assignees(self, ticket_id: int) -> set[int]:
        self._load_assignees({ticket_id})
        return self._assignees[ticket_id]

    def assigned(self, ticket_id: int, user_id: int) -> None:
        self._assignees.setdefault(ticket_id, set()).add(user_id)

    def merged(self, survivor_id: int, absorbed_ids: Iterable[int]) -> None:
        """After a merge: assignees moved, so they are read again."""
        for ticket_id in (survivor_id, *absorbed_ids):
            self._assignees.pop(ticket_id, None)
