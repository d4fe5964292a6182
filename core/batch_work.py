"""The reads and writes of one batch of messages, done a set at a time.

Per message, the pipeline's rules would cost a dozen statements, each far dearer in SQLAlchemy
than in the database. So the rules ask this object instead: it prefetches what the batch needs
in a few set queries, answers later reads from those caches *and* from the writes of earlier
messages of the same batch (a reply may follow its root in one batch), and buffers the
append-only writes (``core/batch_writes.py``) to send them in a few multi-row statements at
:meth:`flush`. A batch of one is the same code, so every rule has one implementation.

It lives for one call of the pipeline inside one transaction and caches nothing beyond it.
Clients are still inserted immediately (their unique ids settle races with other transactions);
ticket and message ids are allocated ahead (the batch holds the write lock on SQLite, the
sequence on PostgreSQL), so new tickets are buffered too, as ORM objects the rules change freely
until :meth:`flush` inserts them with their final values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from threadline.core.batch_locks import lock_batch, lock_keys
from threadline.core.batch_writes import BatchWrites
from threadline.core.external_ids import USER_EMAIL_TYPE, email_or_none, matching_types
from threadline.core.id_allocation import IdAllocator
from threadline.core.models import (
    ClientExternalId,
    Message,
    MessageRef,
    Ticket,
    User,
    UserOAuthAccount,
    ticket_assignments,
    user_departments,
)

T = TypeVar("T")
RefRow = tuple[str, int, int | None]
"""(external id, ticket id, message id or None) of a ``message_refs`` row."""

# Built once: constructing statements costs more than running them on the hot path.
_REFS = select(MessageRef.external_id, MessageRef.ticket_id, MessageRef.message_id).where(
    MessageRef.channel == bindparam("channel"),
    MessageRef.external_id.in_(bindparam("keys", expanding=True)),
)
_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_CLIENT_IDS = select(
    ClientExternalId.type, ClientExternalId.value, ClientExternalId.client_id, ClientExternalId.id
).where(
    ClientExternalId.type.in_(bindparam("types", expanding=True)),
    ClientExternalId.value.in_(bindparam("values", expanding=True)),
)
_AGENT_ACCOUNTS = select(
    UserOAuthAccount.provider,
    UserOAuthAccount.provider_user_id,
    UserOAuthAccount.user_id,
    UserOAuthAccount.id,
).where(
    UserOAuthAccount.provider.in_(bindparam("providers", expanding=True)),
    UserOAuthAccount.provider_user_id.in_(bindparam("values", expanding=True)),
)
_AGENTS = select(User.id, User.email).where(User.type == "agent").order_by(User.id)
_MEMBERSHIPS = select(user_departments.c.user_id, user_departments.c.department_id)
_ASSIGNEES = select(ticket_assignments.c.ticket_id, ticket_assignments.c.user_id).where(
    ticket_assignments.c.ticket_id.in_(bindparam("ids", expanding=True))
)
_RECENT = (
    select(Message.client_id, func.count())
    .where(
        Message.client_id.in_(bindparam("ids", expanding=True)),
        Message.created_at > bindparam("since"),
    )
    .group_by(Message.client_id)
)
_LATEST_TICKET = (
    select(Ticket)
    .where(Ticket.client_id == bindparam("client_id"))
    .order_by(Ticket.id.desc())
    .limit(1)
)
AGENT_ACCOUNT = "agent:"
"""Prefixes the provider in the owner type of an agent's linked account among a value's owners
(``agent:slack``): a sender of any type but ``email`` (``users.email``) may be an agent's
account at the provider of that name."""


def agent_account(provider: str) -> str:
    return AGENT_ACCOUNT + provider


class BatchWork:
    """One batch's caches and write buffers; see the module docstring for why."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        """One instant for the whole batch, so cached counts and their windows agree."""
        self._refs: dict[tuple[str, str], RefRow] = {}
        self._refs_looked_up: set[tuple[str, str]] = set()
        self._tickets: dict[int, Ticket] = {}
        self._missing_tickets: set[int] = set()
        self._owner_rows: dict[str, list[tuple[str, int, int]]] = {}
        """value -> [(type, client id, id)] of client external ids."""
        self._account_rows: dict[str, list[tuple[str, int, int]]] = {}
        """value -> [(agent_account(provider), user id, id)] of agents' linked accounts."""
        self._owners_looked_up: set[tuple[str, str]] = set()
        self._new_clients: set[int] = set()
        self._agents: list[tuple[int, str]] | None = None
        self._agent_addresses: frozenset[str] | None = None
        self._memberships: dict[int, set[int]] = {}
        self._assignees: dict[int, set[int]] = {}
        self._recent: dict[int, int] = {}
        self._recent_since: datetime | None = None
        self.ids = IdAllocator(session)
        self.writes = BatchWrites()
        self._memo: dict[str, object] = {}

    # -- prefetching ------------------------------------------------------------------------

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
        self._load_owners(senders)
        self._load_refs(keys)
        wanted = set(ticket_ids) | {row[1] for row in self._refs.values()}
        if not alone:
            lock_keys(self.session, [f"ticket:{ticket_id}" for ticket_id in wanted])
        self._load_tickets(wanted)

    def _load_owners(self, senders: set[tuple[str, str]]) -> None:
        """``senders``: (type, normalized value) pairs; a value's twin types come along."""
        senders -= self._owners_looked_up
        if not senders:
            return
        self._owners_looked_up |= senders
        values = list({value for _type, value in senders})
        types = list({twin for type, _value in senders for twin in matching_types(type)})
        connection = self.session.connection()
        for type, value, client_id, row_id in connection.execute(
            _CLIENT_IDS, {"types": types, "values": values}
        ):
            if (type, client_id, row_id) not in self._owner_rows.get(value, []):
                self._owner_rows.setdefault(value, []).append((type, client_id, row_id))
        accounts = {(type, value) for type, value in senders if type != USER_EMAIL_TYPE}
        if accounts:
            found = connection.execute(
                _AGENT_ACCOUNTS,
                {
                    "providers": list({type for type, _value in accounts}),
                    "values": list({value for _type, value in accounts}),
                },
            )
            for provider, value, user_id, row_id in found:
                row = (agent_account(provider), user_id, row_id)
                if row not in self._account_rows.get(value, []):
                    self._account_rows.setdefault(value, []).append(row)

    def _load_refs(self, keys: set[tuple[str, str]]) -> None:
        """``keys``: (channel, external id) pairs, one query per channel."""
        keys -= self._refs_looked_up
        if not keys:
            return
        self._refs_looked_up |= keys
        connection = self.session.connection()
        for channel in {channel for channel, _key in keys}:
            wanted = [key for key_channel, key in keys if key_channel == channel]
            for external_id, ticket_id, message_id in connection.execute(
                _REFS, {"channel": channel, "keys": wanted}
            ):
                self._refs[(channel, external_id)] = (external_id, ticket_id, message_id)

    def _load_tickets(self, ids: set[int]) -> None:
        """Held here, not only in the session's identity map, which lets unreferenced objects
        go; read without autoflush, since a query never overwrites a pending change."""
        ids -= self._tickets.keys() | self._missing_tickets
        if not ids:
            return
        with self.session.no_autoflush:
            found = self.session.scalars(_TICKETS, {"ids": list(ids)}).all()
        self._tickets.update((ticket.id, ticket) for ticket in found)
        self._missing_tickets |= ids - self._tickets.keys()
        self._load_assignees({ticket.id for ticket in found})

    def _load_assignees(self, ticket_ids: set[int]) -> None:
        ticket_ids -= self._assignees.keys()
        if not ticket_ids:
            return
        for ticket_id in ticket_ids:
            self._assignees[ticket_id] = set()
        for ticket_id, user_id in self.session.connection().execute(
            _ASSIGNEES, {"ids": list(ticket_ids)}
        ):
            self._assignees[ticket_id].add(user_id)

    # -- reads ------------------------------------------------------------------------------

    def memo(self, key: str, load: Callable[[Session], T]) -> T:
        """What a rule reads once per batch, loaded on first use and kept until it ends."""
        if key not in self._memo:
            self._memo[key] = load(self.session)
        return cast(T, self._memo[key])

    def owner_rows(self, type: str, value: str) -> list[tuple[str, int, int]]:
        """The stored owners of a sender's id value: ``(type, owner id, row id)``, clients'
        external ids and agents' linked accounts."""
        self._load_owners({(type, value)})
        rows = self._owner_rows.get(value, [])
        accounts = self._account_rows.get(value)
        return rows + accounts if accounts else rows

    def refs(self, channel: str, keys: Iterable[str]) -> list[RefRow]:
        keys = list(keys)
        self._load_refs({(channel, key) for key in keys})
        return [row for key in keys if (row := self._refs.get((channel, key))) is not None]

    def ticket(self, ticket_id: int) -> Ticket | None:
        self._load_tickets({ticket_id})
        return self._tickets.get(ticket_id)

    def agents(self) -> list[tuple[int, str]]:
        """Every agent (id, email) in id order."""
        if self._agents is None:
            connection = self.session.connection()
            self._agents = [(row.id, row.email) for row in connection.execute(_AGENTS)]
            for user_id, department_id in connection.execute(_MEMBERSHIPS):
                self._memberships.setdefault(department_id, set()).add(user_id)
        return self._agents

    def agent_addresses(self) -> frozenset[str]:
        """Every agent's email, normalized as a sender's address is."""
        if self._agent_addresses is None:
            addresses = {email_or_none(email) for _id, email in self.agents()}
            self._agent_addresses = frozenset(address for address in addresses if address)
        return self._agent_addresses

    def department_members(self, department_id: int | None) -> set[int]:
        self.agents()
        return self._memberships.get(department_id, set()) if department_id else set()

    def assignees(self, ticket_id: int) -> set[int]:
        self._load_assignees({ticket_id})
        return self._assignees[ticket_id]

    def recent_messages(self, client_id: int, since: datetime) -> int:
        """Messages of the client since ``since``, counting this batch's; ``since`` is the same
        for the whole batch (its clock is), so the counts of earlier clients stay valid."""
        if self._recent_since != since:
            self._recent, self._recent_since = {}, since
        if client_id not in self._recent:
            wanted = {client_id} | {
                owner
                for rows in self._owner_rows.values()
                for type, owner, _row_id in rows
                if owner not in self._recent
            }
            # A client this batch created has no stored messages: no query for a new sender.
            stored = list(wanted - self._new_clients)
            counts: dict[int, int] = (
                dict(
                    self.session.connection()
                    .execute(_RECENT, {"ids": stored, "since": since})
                    .all()
                )
                if stored
                else {}
            )
            for owner in wanted:
                self._recent[owner] = counts.get(owner, 0) + sum(
                    1
                    for row in self.writes.messages
                    if row["client_id"] == owner and row["created_at"] > since
                )
        return self._recent[client_id]

    # -- writes -----------------------------------------------------------------------------

    def added_owner(self, type: str, value: str, client_id: int, row_id: int) -> None:
        """A client this batch has just created, with its first id."""
        self._owner_rows.setdefault(value, []).append((type, client_id, row_id))
        self._new_clients.add(client_id)

    def forget_owner(self, type: str, value: str) -> None:
        """Look the value up again: a concurrent transaction has just stored it."""
        self._owners_looked_up.discard((type, value))

    def assigned(self, ticket_id: int, user_id: int) -> None:
        self._assignees.setdefault(ticket_id, set()).add(user_id)

    def opened(self, ticket: Ticket) -> None:
        """A ticket this batch opens (its id from ``ids.next("tickets")``), inserted at
        :meth:`flush`: found from now on (a tag prefetched before it existed may name it), with
        no assignees but those it records itself."""
        self.writes.tickets[ticket.id] = ticket
        self._tickets[ticket.id] = ticket
        self._missing_tickets.discard(ticket.id)
        self._assignees.setdefault(ticket.id, set())

    def written(self, ticket_id: int) -> Session:
        """The session, with the ticket's row in the database: for a rule that writes a row
        referencing it at once."""
        return self.flush() if ticket_id in self.writes.tickets else self.session

    def latest_ticket(self, client_id: int) -> Ticket | None:
        """The client's ticket with the highest id, among the stored and this batch's new ones."""
        stored = self.session.scalars(_LATEST_TICKET, {"client_id": client_id}).first()
        new = [ticket for ticket in self.writes.tickets.values() if ticket.client_id == client_id]
        return max([*new, *([stored] if stored else [])], key=lambda t: t.id, default=None)

    def add_message(self, row: dict[str, Any]) -> int:
        """Buffer a ``messages`` row; answers the id it will have."""
        message_id = self.ids.next("messages")
        self.writes.messages.append({**row, "id": message_id})
        client_id = row["client_id"]
        since = self._recent_since
        if client_id in self._recent and since is not None and row["created_at"] > since:
            self._recent[client_id] += 1
        return message_id

    def add_ref(self, channel: str, key: str, ticket_id: int, message_id: int | None) -> None:
        self._refs[(channel, key)] = (key, ticket_id, message_id)
        self.writes.ref(
            {
                "channel": channel,
                "external_id": key,
                "ticket_id": ticket_id,
                "message_id": message_id,
                "created_at": self.now,
            }
        )

    def claim_ref(self, channel: str, key: str, message_id: int) -> None:
        """A key stored as only referenced becomes the own id of ``message_id``."""
        _key, ticket_id, _old = self._refs[(channel, key)]
        self._refs[(channel, key)] = (key, ticket_id, message_id)
        self.writes.claim({"ref_channel": channel, "ref_id": key, "own_message_id": message_id})

    def tickets_merged(self, survivor_id: int, absorbed_ids: list[int]) -> None:
        """After a merge (run on flushed tables): its refs and assignees moved."""
        absorbed = set(absorbed_ids)
        for key, (external_id, ticket_id, message_id) in self._refs.items():
            if ticket_id in absorbed:
                self._refs[key] = (external_id, survivor_id, message_id)
        for ticket_id in (survivor_id, *absorbed_ids):
            self._assignees.pop(ticket_id, None)

    def flush(self) -> Session:
        """Write everything buffered; answers the session, for rules that must query tables
        with buffered rows (call it first)."""
        self.writes.flush(self.session)
        return self.session
