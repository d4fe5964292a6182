"""Clients and the identifiers they write from, kept so that one identifier names one client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from threadline.core.admin.errors import Conflict, NotFound
from threadline.core.admin.names import required_name
from threadline.core.external_ids import matching_types, normalize
from threadline.core.models import Client, ClientExternalId


@dataclass(frozen=True)
class ExternalId:
    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True)
class ClientSummary:
    id: int
    name: str
    external_ids: tuple[ExternalId, ...]
    created_at: datetime


def get_client(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client with id {client_id}")
    return client


def add_client(
    session: Session,
    name: str,
    external_ids: Iterable[tuple[str, str]],
    default_region: str,
) -> ClientSummary:
    """Every id is checked before anything is written, so a refused id leaves no half client."""
    name = required_name(name, "client")
    wanted = list(
        dict.fromkeys(
            ExternalId(type, normalize(type, value, default_region)) for type, value in external_ids
        )
    )
    for external_id in wanted:
        _refuse_if_taken(session, external_id, None)
    client = Client(
        name=name,
        external_ids=[ClientExternalId(type=e.type, value=e.value) for e in wanted],
    )
    session.add(client)
    session.flush()
    return ClientSummary(client.id, client.name, tuple(wanted), client.created_at)


def link_external_id(
    session: Session, client_id: int, type: str, value: str, default_region: str
) -> ExternalId:
    client = get_client(session, client_id)
    external_id = ExternalId(type, normalize(type, value, default_region))
    _refuse_if_taken(session, external_id, client)
    session.add(
        ClientExternalId(client_id=client.id, type=external_id.type, value=external_id.value)
    )
    session.flush()
    return external_id


def list_clients(session: Session) -> list[ClientSummary]:
    clients = session.scalars(
        select(Client).options(selectinload(Client.external_ids)).order_by(Client.id)
    )
    return [
        ClientSummary(
            client.id,
            client.name,
            tuple(ExternalId(e.type, e.value) for e in client.external_ids),
            client.created_at,
        )
        for client in clients
    ]


def _refuse_if_taken(session: Session, external_id: ExternalId, client: Client | None) -> None:
    """A phone number is also its WhatsApp sender, so a number may belong to one
    client only, whichever of the two types it was stored as."""
    holders = session.execute(
        select(ClientExternalId, Client)
        .join(Client, Client.id == ClientExternalId.client_id)
        .where(
            ClientExternalId.type.in_(matching_types(external_id.type)),
            ClientExternalId.value == external_id.value,
        )
        .order_by(ClientExternalId.id)
    ).all()
    for held, holder in holders:
        stored = ExternalId(held.type, held.value)
        owner = f"client {holder.id} ({holder.name})"
        if client is not None and holder.id == client.id:
            if stored == external_id:
                raise Conflict(f"{external_id} is already linked to {owner}")
            continue
        if stored == external_id:
            raise Conflict(f"{external_id} already belongs to {owner}")
        raise Conflict(f"{external_id} is the number of {stored}, which belongs to {owner}")
