"""Who wrote a message: a client, or one of our agents.

On a channel that does not vouch for its senders (a mail's From: is trivially forged), an id
alone never makes anyone an agent: only a reply token issued to that agent, arriving from that
agent's own id, does. Where the provider vouches for them (``ChannelTraits.verifies_sender``: a
signed Slack event names its user), an agent's linked account is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import bindparam, delete

from threadline.core.admin.names import NAME_LENGTH
from threadline.core.agent_roster import agent_roster
from threadline.core.batch_work import BatchWork
from threadline.core.bulk import BulkInsert
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.external_ids import (
    USER_EMAIL_TYPE,
    InvalidExternalId,
    email_or_none,
    matching_types,
    normalize,
)
from threadline.core.known_senders import agent_account
from threadline.core.models import Client, ClientExternalId, User
from threadline.core.normalized import Classification, Inbound, SenderIdentity
from threadline.core.outcome import Park
from threadline.core.settings import IdentitySettings
from threadline.core.tokens import ReplyToken


@dataclass(frozen=True)
class Author:
    kind: Literal["client", "agent"]
    client_id: int | None
    user_id: int | None
    address: str
    """The sender's normalized external id (for an agent by token: their email)."""
    claims_agent: bool = False
    """Wrote from an agent's address without that agent's reply token: kept as a client, and
    threaded into nothing existing, so a forged From: reaches no conversation."""


def resolve_author(
    work: BatchWork,
    sender: SenderIdentity,
    *,
    token: ReplyToken | None,
    settings: IdentitySettings,
    traits: ChannelTraits,
) -> Author:
    """Park rather than fail for senders no retry can identify, so they do not burn attempts."""
    try:
        address = normalize(sender.type, sender.value, settings.default_region)
    except InvalidExternalId as error:
        raise Park(f"cannot identify the sender: {error}") from None
    if token is not None and token.agent_id is not None and not traits.verifies_sender:
        agent = _token_agent(work, token.agent_id, sender.type, address)
        if agent is not None:
            return agent
    claims_agent = not traits.verifies_sender and _is_agent_id(work, sender.type, address)
    if claims_agent and settings.unverified_agent == "park":
        raise Park(
            f"{address} is an agent's address, but the mail carries no valid reply token of "
            "theirs (identity.unverified_agent is 'park'); agents answer through the reply "
            "address of their notification"
        )
    known = _known(work, sender.type, address, traits)
    if known is not None:
        return replace(known, claims_agent=claims_agent)
    if settings.unknown_sender == "park":
        raise Park(
            f"unknown sender {sender.type} {address} (identity.unknown_sender is 'park'); "
            f"add them with `threadline clients add NAME -e {sender.type} {address}`, "
            "then retry the item"
        )
    return replace(_create_client(work, sender, address, traits), claims_agent=claims_agent)


def sender_key(sender: SenderIdentity, settings: IdentitySettings) -> tuple[str, str] | None:
    """The (type, normalized value) a batch prefetches for ``sender``; None if it is invalid
    (``resolve_author`` parks it)."""
    try:
        return sender.type, normalize(sender.type, sender.value, settings.default_region)
    except InvalidExternalId:
        return None


def _token_agent(work: BatchWork, agent_id: int, type: str, address: str) -> Author | None:
    """The token's agent, if the message comes from that agent's own id of the sender's type.
    Stored emails are compared in normalized form, in case another tool wrote them."""
    if type == USER_EMAIL_TYPE:
        user = work.session.get(User, agent_id)
        if user is None or email_or_none(user.email) != address:
            return None
    elif agent_id not in _account_owners(work, type, address):
        return None
    return Author("agent", None, agent_id, address)


def _is_agent_id(work: BatchWork, type: str, address: str) -> bool:
    if type == USER_EMAIL_TYPE:
        return address in agent_roster(work).addresses
    return bool(_account_owners(work, type, address))


def _account_owners(work: BatchWork, type: str, address: str) -> set[int]:
    """The agents who linked ``address`` as their account at the provider ``type``."""
    account = agent_account(type)
    owners = work.senders.owners(type, address)
    return {owner.owner_id for owner in owners if owner.type == account}


def _known(work: BatchWork, type: str, address: str, traits: ChannelTraits) -> Author | None:
    """An agent's linked account wins where the channel vouches for its senders (a signed Slack
    event); a number may be stored as phone or as WhatsApp (the sender's own type wins, then
    the oldest id)."""
    types = matching_types(type)
    account = agent_account(type) if traits.verifies_sender else None
    ranked = sorted(
        (0 if owner.type == account else 1 if owner.type == type else 2, owner.row_id, owner)
        for owner in work.senders.owners(type, address)
        if owner.type in types or owner.type == account
    )
    if not ranked:
        return None
    rank, _row_id, owner = ranked[0]
    if rank == 0:
        return Author("agent", None, owner.owner_id, address)
    return Author("client", owner.owner_id, None, address)


_clients = Client.__table__
_NEW_CLIENTS = BulkInsert(_clients, ("id", "name", "created_at", "updated_at"))
_NEW_IDS = BulkInsert(
    ClientExternalId.__table__,
    ("client_id", "type", "value", "created_at"),
    skip_conflicts_on=("type", "value"),
    returning=("type", "value", "client_id", "id"),
)
_DROP_CLIENTS = delete(_clients).where(_clients.c.id.in_(bindparam("ids", expanding=True)))


def create_unknown_senders(
    work: BatchWork,
    inbounds: Sequence[Inbound],
    tokens: Sequence[ReplyToken | None],
    senders: Sequence[tuple[str, str] | None],
    settings: IdentitySettings,
    traits: Mapping[str, ChannelTraits],
) -> None:
    """The clients of a batch's new senders, created together before its messages are handled
    (which then find them known): a few statements for the batch instead of an insert or two
    per new sender. Left out: our own mail come back, and messages with an agent's token,
    which :func:`resolve_author` may attribute to the agent, messages where only agents talk,
    and delivery reports."""
    if settings.unknown_sender != "create":
        return
    names: dict[tuple[str, str], str] = {}
    for inbound, token, key in zip(inbounds, tokens, senders, strict=True):
        if (
            key is None
            or key in names
            or inbound.classification is Classification.LOOP
            or inbound.from_agents
            or inbound.receipts
            or (token is not None and token.agent_id is not None)
            or _known(work, *key, traits_of(traits, inbound.channel)) is not None
        ):
            continue
        names[key] = _client_name(inbound.sender, key[1])
    _create_clients(work, names)


def _client_name(sender: SenderIdentity, address: str) -> str:
    return (sender.display_name or "").strip()[:NAME_LENGTH] or address


def _create_client(
    work: BatchWork, sender: SenderIdentity, address: str, traits: ChannelTraits
) -> Author:
    _create_clients(work, {(sender.type, address): _client_name(sender, address)})
    author = _known(work, sender.type, address, traits)
    assert author is not None, "just created, or created by a concurrent transaction"
    return author


def _create_clients(work: BatchWork, names: dict[tuple[str, str], str]) -> None:
    """Concurrent first messages from one sender race on the unique (type, value). Ids are
    inserted ``ON CONFLICT DO NOTHING`` rather than in a SAVEPOINT (which would also flush the
    session): a loser's insert waits for the winner's commit, then stores nothing, and the
    loser drops its own client and looks up the winner's instead."""
    if not names:
        return
    now = work.now
    connection = work.session.connection()
    client_ids = dict(zip(names, work.ids.take("clients", len(names)), strict=True))
    _NEW_CLIENTS.execute(
        connection,
        [(client_ids[key], name, now, now) for key, name in names.items()],
    )
    stored = _NEW_IDS.execute(
        connection,
        [(client_ids[key], *key, now) for key in names],
    )
    for type, value, client_id, row_id in stored:
        work.senders.added(type, value, client_id, row_id)
    lost = names.keys() - {(type, value) for type, value, _client, _row in stored}
    if lost:
        connection.execute(_DROP_CLIENTS, {"ids": [client_ids[key] for key in lost]})
        for key in lost:
            work.senders.forget(*key)
