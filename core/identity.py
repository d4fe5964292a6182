"""Who wrote a message: a client, or one of our agents (DESIGN.md §4 and §6).

An email From: is trivially forged, so it alone never makes anyone an agent: only a reply token
issued to that agent, arriving from that agent's address, does. A Slack user id is asserted by
Slack itself (the request is signed), so an agent's linked Slack account is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from core.admin.names import NAME_LENGTH
from core.batch_work import AGENT_ACCOUNT, BatchWork
from core.db import DIALECT_INSERTS
from core.external_ids import InvalidExternalId, matching_types, normalize
from core.models import Client, ClientExternalId, User
from core.normalized import SenderIdentity
from core.outcome import Park
from core.settings import IdentitySettings
from core.tokens import ReplyToken


@dataclass(frozen=True)
class Author:
    kind: Literal["client", "agent"]
    client_id: int | None
    user_id: int | None
    address: str
    """The sender's normalized external id (for an agent by token: their email)."""


def resolve_author(
    work: BatchWork,
    sender: SenderIdentity,
    *,
    token: ReplyToken | None,
    settings: IdentitySettings,
) -> Author:
    """Park rather than fail for senders no retry can identify, so they do not burn attempts."""
    try:
        address = normalize(sender.type, sender.value, settings.default_region)
    except InvalidExternalId as error:
        raise Park(f"cannot identify the sender: {error}") from None
    if token is not None and token.agent_id is not None and sender.type == "email":
        agent = _token_agent(work.session, token.agent_id, address)
        if agent is not None:
            return agent
    known = _known(work, sender.type, address)
    if known is not None:
        return known
    if settings.unknown_sender == "park":
        raise Park(
            f"unknown sender {sender.type} {address} (identity.unknown_sender is 'park'); "
            f"add them with `threadline clients add NAME -e {sender.type} {address}`, "
            "then retry the item"
        )
    return _create_client(work, sender, address)


def sender_key(sender: SenderIdentity, settings: IdentitySettings) -> tuple[str, str] | None:
    """The (type, normalized value) a batch prefetches for ``sender``; None if it is invalid
    (``resolve_author`` parks it)."""
    try:
        return sender.type, normalize(sender.type, sender.value, settings.default_region)
    except InvalidExternalId:
        return None


def _token_agent(session: Session, agent_id: int, address: str) -> Author | None:
    """Stored emails are compared in normalized form, in case another tool wrote them."""
    user = session.get(User, agent_id)
    if user is None:
        return None
    try:
        email = normalize("email", user.email, default_region="")
    except InvalidExternalId:
        return None
    return Author("agent", None, user.id, address) if email == address else None


def _known(work: BatchWork, type: str, address: str) -> Author | None:
    """A Slack id may be an agent's account (which wins) or a client's; a number may be stored
    as phone or as WhatsApp (the sender's own type wins, then the oldest id)."""
    types = matching_types(type)
    ranked = sorted(
        (0 if owner_type == AGENT_ACCOUNT else 1 if owner_type == type else 2, row_id, owner)
        for owner_type, owner, row_id in work.owner_rows(type, address)
        if owner_type in types or (owner_type == AGENT_ACCOUNT and type == "slack")
    )
    if not ranked:
        return None
    rank, _row_id, owner = ranked[0]
    if rank == 0:
        return Author("agent", None, owner, address)
    return Author("client", owner, None, address)


_NEW_CLIENT = insert(Client.__table__).returning(Client.__table__.c.id)
_NEW_ID = {
    dialect: insert_of(ClientExternalId.__table__)
    .on_conflict_do_nothing(index_elements=["type", "value"])
    .returning(ClientExternalId.__table__.c.id)
    for dialect, insert_of in DIALECT_INSERTS.items()
}
"""Per dialect, built once: building a statement costs more than running it."""
_DROP_CLIENT = delete(Client.__table__).where(Client.__table__.c.id == bindparam("client_id"))


def _create_client(work: BatchWork, sender: SenderIdentity, address: str) -> Author:
    """Concurrent first messages from one sender race on the unique (type, value). The id is
    inserted ``ON CONFLICT DO NOTHING`` rather than in a SAVEPOINT (which would also flush the
    session for every new sender): a loser's insert waits for the winner's commit, then stores
    nothing, and the loser drops its own client and answers the winner's instead."""
    session, now = work.session, work.now
    name = (sender.display_name or "").strip()[:NAME_LENGTH] or address
    connection = session.connection()
    client_id = connection.execute(
        _NEW_CLIENT, {"name": name, "created_at": now, "updated_at": now}
    ).scalar_one()
    row_id = connection.execute(
        _NEW_ID[connection.dialect.name],
        {"client_id": client_id, "type": sender.type, "value": address, "created_at": now},
    ).scalar_one_or_none()
    if row_id is None:
        connection.execute(_DROP_CLIENT, {"client_id": client_id})
        work.forget_owner(sender.type, address)
        winner = _known(work, sender.type, address)
        assert winner is not None, "a conflict means the winner's id is committed"
        return winner
    work.added_owner(sender.type, address, client_id, row_id)
    return Author("client", client_id, None, address)
