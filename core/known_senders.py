"""Who owns a sender's id, for one batch: the rows identity (``core/identity.py``) decides by,
read for the whole batch in two set queries and kept current as the batch creates clients.

A value's owners are clients' external ids (of the sender's type or a twin, ``phone`` and
``whatsapp``) and agents' linked accounts at the provider named like the sender's type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from threadline.core.external_ids import USER_EMAIL_TYPE, matching_types
from threadline.core.models import ClientExternalId, UserOAuthAccount

AGENT_ACCOUNT = "agent:"
"""Prefixes the provider in the owner type of an agent's linked account (``agent:slack``): a
sender of any type but ``email`` (``users.email``) may be an agent's account at the provider
of that name."""

# Built once: constructing statements costs more than running them on the hot path.
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


def agent_account(provider: str) -> str:
    return AGENT_ACCOUNT + provider


class Owner(NamedTuple):
    type: str
    """The external id's type, or :func:`agent_account` of the provider."""
    owner_id: int
    """The client's id, or the agent's user id."""
    row_id: int
    """The id of the row that binds them: the oldest binding wins a tie."""


class KnownSenders:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._clients: dict[str, list[Owner]] = {}
        self._accounts: dict[str, list[Owner]] = {}
        """Apart from clients' ids, so that counting clients never looks at agents."""
        self._looked_up: set[tuple[str, str]] = set()
        self._new_clients: set[int] = set()

    def load(self, senders: set[tuple[str, str]]) -> None:
        """``senders``: (type, normalized value) pairs; a value's twin types come along."""
        senders -= self._looked_up
        if not senders:
            return
        self._looked_up |= senders
        values = list({value for _type, value in senders})
        types = list({twin for type, _value in senders for twin in matching_types(type)})
        connection = self._session.connection()
        for type, value, client_id, row_id in connection.execute(
            _CLIENT_IDS, {"types": types, "values": values}
        ):
            _add(self._clients, value, Owner(type, client_id, row_id))
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
                _add(self._accounts, value, Owner(agent_account(provider), user_id, row_id))

    def owners(self, type: str, value: str) -> list[Owner]:
        """The stored owners of a sender's id value, clients' and agents'."""
        self.load({(type, value)})
        clients = self._clients.get(value, [])
        accounts = self._accounts.get(value)
        return clients + accounts if accounts else clients

    def client_ids(self) -> Iterator[int]:
        """Every client met so far, the batch's new ones included."""
        return (owner.owner_id for owners in self._clients.values() for owner in owners)

    def is_new(self, client_id: int) -> bool:
        """Created by this batch: it has no stored messages yet."""
        return client_id in self._new_clients

    def added(self, type: str, value: str, client_id: int, row_id: int) -> None:
        """A client this batch has just created, with its first id."""
        self._clients.setdefault(value, []).append(Owner(type, client_id, row_id))
        self._new_clients.add(client_id)

    def forget(self, type: str, value: str) -> None:
        """Look the value up again: a concurrent transaction has just stored it."""
        self._looked_up.discard((type, value))


def _add(owners: dict[str, list[Owner]], value: str, owner: Owner) -> None:
    """A value looked up again (see :meth:`KnownSenders.forget`) finds its rows once more."""
    rows = owners.setdefault(value, [])
    if owner not in rows:
        rows.append(owner)
