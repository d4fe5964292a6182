"""Who wrote a message: a client, or one of our agents (DESIGN.md §4 and §6).

An email From: is trivially forged, so it alone never makes anyone an agent: only a reply token
issued to that agent, arriving from that agent's address, does. A Slack user id is asserted by
Slack itself (the request is signed), so an agent's linked Slack account is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import CompoundSelect, Select, bindparam, case, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.admin.names import NAME_LENGTH
from core.external_ids import InvalidExternalId, matching_types, normalize
from core.models import Client, ClientExternalId, User, UserOAuthAccount
from core.normalized import SenderIdentity
from core.outcome import Park
from core.settings import IdentitySettings
from core.tokens import ReplyToken

SLACK_PROVIDER = "slack"


@dataclass(frozen=True)
class Author:
    kind: Literal["client", "agent"]
    client_id: int | None
    user_id: int | None
    address: str
    """The sender's normalized external id (for an agent by token: their email)."""


def resolve_author(
    session: Session,
    sender: SenderIdentity,
    *,
    token: ReplyToken | None,
    settings: IdentitySettings,
    now: datetime,
) -> Author:
    """Park rather than fail for senders no retry can identify, so they do not burn attempts."""
    try:
        address = normalize(sender.type, sender.value, settings.default_region)
    except InvalidExternalId as error:
        raise Park(f"cannot identify the sender: {error}") from None
    if token is not None and token.agent_id is not None and sender.type == "email":
        agent = _token_agent(session, token.agent_id, address)
        if agent is not None:
            return agent
    known = _known(session, sender.type, address)
    if known is not None:
        return known
    if settings.unknown_sender == "park":
        raise Park(
            f"unknown sender {sender.type} {address} (identity.unknown_sender is 'park'); "
            f"add them with `threadline clients add NAME -e {sender.type} {address}`, "
            "then retry the item"
        )
    return _create_client(session, sender, address, now)


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


def _known(session: Session, type: str, address: str) -> Author | None:
    """One indexed round trip, because it runs for every message: a Slack id may be an agent's
    account (which wins) or a client's; a number may be stored as phone or as WhatsApp (the
    sender's own type wins, then the oldest id)."""
    query = _SLACK_OWNERS if type == "slack" else _CLIENT_OWNERS
    twin = next((other for other in matching_types(type) if other != type), type)
    found = (
        session.connection()
        .execute(query, {"type": type, "twin": twin, "address": address})
        .first()
    )
    if found is None:
        return None
    if found.rank == 0:
        return Author("agent", None, found.owner, address)
    return Author("client", found.owner, None, address)


def _owners() -> tuple[CompoundSelect, Select]:
    """Built once at import: composing the statement cost more than running it."""
    ids = ClientExternalId.__table__.c
    accounts = UserOAuthAccount.__table__.c
    clients = select(
        case((ids.type == bindparam("type"), 1), else_=2).label("rank"),
        ids.client_id.label("owner"),
        ids.id.label("tie"),
    ).where(ids.type.in_([bindparam("type"), bindparam("twin")]), ids.value == bindparam("address"))
    agents = select(
        literal(0).label("rank"), accounts.user_id.label("owner"), accounts.id.label("tie")
    ).where(accounts.provider == SLACK_PROVIDER, accounts.provider_user_id == bindparam("address"))
    slack = union_all(agents, clients).order_by("rank", "tie").limit(1)
    return slack, clients.order_by("rank", "tie").limit(1)


_SLACK_OWNERS, _CLIENT_OWNERS = _owners()
_NEW_CLIENT = insert(Client.__table__).returning(Client.__table__.c.id)
_NEW_ID = insert(ClientExternalId.__table__)


def _create_client(session: Session, sender: SenderIdentity, address: str, now: datetime) -> Author:
    """Concurrent first messages from one sender race on the unique (type, value): the loser's
    client and id vanish with its savepoint, and it answers the winner's client instead."""
    name = (sender.display_name or "").strip()[:NAME_LENGTH] or address
    savepoint = session.begin_nested()  # flushes earlier work first, outside the except below
    try:
        with savepoint:
            client_id = session.execute(
                _NEW_CLIENT, {"name": name, "created_at": now, "updated_at": now}
            ).scalar_one()
            session.execute(
                _NEW_ID,
                {"client_id": client_id, "type": sender.type, "value": address, "created_at": now},
            )
    except IntegrityError:
        winner = _known(session, sender.type, address)
        if winner is None:
            raise
        return winner
    return Author("client", client_id, None, address)
