"""``threadline tickets export``: every ticket as one JSON line, for operators' exports and
backups.

It streams: tickets are read in id order a chunk at a time, with each chunk's related rows
fetched in a handful of set queries, so memory stays flat however many tickets there are and
the query count grows with the chunks, not with the messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.external_ids import matching_types
from threadline.core.models import (
    Attachment,
    Client,
    ClientExternalId,
    Department,
    Message,
    MessageRef,
    MessageText,
    Tag,
    Ticket,
    User,
    ticket_assignments,
    ticket_tags,
)

CHUNK = 500


def export_tickets(
    session: Session,
    traits: Mapping[str, ChannelTraits],
    since: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Tickets changed at or after ``since`` (all without it), oldest id first; a client
    author's address is their id of the type their message's channel reaches them at."""
    last_id = 0
    while True:
        query = select(Ticket).where(Ticket.id > last_id).order_by(Ticket.id).limit(CHUNK)
        if since is not None:
            query = query.where(Ticket.updated_at >= since)
        tickets = list(session.scalars(query))
        if not tickets:
            return
        yield from _documents(session, tickets, traits)
        last_id = tickets[-1].id
        session.expunge_all()


def _documents(
    session: Session, tickets: list[Ticket], traits: Mapping[str, ChannelTraits]
) -> Iterator[dict[str, Any]]:
    ids = [ticket.id for ticket in tickets]
    client_ids = {ticket.client_id for ticket in tickets}
    clients = {c.id: c for c in session.scalars(select(Client).where(Client.id.in_(client_ids)))}
    external: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for client_id, type_, value in session.execute(
        select(ClientExternalId.client_id, ClientExternalId.type, ClientExternalId.value)
        .where(ClientExternalId.client_id.in_(client_ids))
        .order_by(ClientExternalId.id)
    ):
        external[client_id].append((type_, value))
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    assignees = _grouped(
        session,
        select(ticket_assignments.c.ticket_id, User.email)
        .join(User, User.id == ticket_assignments.c.user_id)
        .where(ticket_assignments.c.ticket_id.in_(ids))
        .order_by(User.email),
    )
    tags = _grouped(
        session,
        select(ticket_tags.c.ticket_id, Tag.name)
        .join(Tag, Tag.id == ticket_tags.c.tag_id)
        .where(ticket_tags.c.ticket_id.in_(ids))
        .order_by(Tag.name),
    )
    messages: dict[int, list[Message]] = defaultdict(list)
    for message in session.scalars(
        select(Message).where(Message.ticket_id.in_(ids)).order_by(Message.id)
    ):
        messages[message.ticket_id].append(message)
    message_ids = [m.id for group in messages.values() for m in group]
    refs = _grouped_in(session, MessageRef.message_id, MessageRef.external_id, message_ids)
    texts = {
        message_id: texts[0]
        for message_id, texts in _grouped_in(
            session, MessageText.message_id, MessageText.full_text, message_ids
        ).items()
    }
    attachments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in _chunks(message_ids):
        for attachment in session.scalars(
            select(Attachment).where(Attachment.message_id.in_(chunk)).order_by(Attachment.id)
        ):
            attachments[attachment.message_id].append(
                {
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "quarantined": attachment.quarantined,
                }
            )
    agent_ids = {m.user_id for group in messages.values() for m in group if m.user_id}
    agents = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(agent_ids))).all())
        if agent_ids
        else {}
    )
    for ticket in tickets:
        client = clients[ticket.client_id]
        yield {
            "id": ticket.id,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "department": departments.get(ticket.department_id),
            "created_at": _iso(ticket.created_at),
            "closed_at": _iso(ticket.closed_at),
            "client": {
                "id": client.id,
                "name": client.name,
                "external_ids": [{"type": t, "value": v} for t, v in external[client.id]],
            },
            "assignees": assignees.get(ticket.id, []),
            "tags": tags.get(ticket.id, []),
            "messages": [
                {
                    "id": message.id,
                    "created_at": _iso(message.created_at),
                    "author": _author(message, agents, external[client.id], traits),
                    "channel": message.channel,
                    "body": message.body,
                    "full_text": texts.get(message.id, message.body),
                    "is_internal": message.is_internal,
                    "refs": refs.get(message.id, []),
                    "attachments": attachments.get(message.id, []),
                }
                for message in messages[ticket.id]
            ],
        }


def _author(
    message: Message,
    agents: dict[int, str],
    client_ids: list[tuple[str, str]],
    traits: Mapping[str, ChannelTraits],
) -> dict[str, Any]:
    if message.user_id is not None:
        return {"kind": "agent", "id": message.user_id, "address": agents.get(message.user_id)}
    if message.client_id is not None:
        id_type = traits_of(traits, message.channel).client_id_type
        types = matching_types(id_type) if id_type else ()
        address = next((value for type_, value in client_ids if type_ in types), None)
        return {"kind": "client", "id": message.client_id, "address": address}
    return {"kind": "system", "id": None, "address": None}


def _grouped(session: Session, query: Any) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for key, value in session.execute(query):
        grouped[key].append(value)
    return grouped


def _grouped_in(session: Session, key: Any, value: Any, ids: list[int]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for row_key, row_value in session.execute(
            select(key, value).where(key.in_(chunk)).order_by(value)
        ):
            grouped[row_key].append(row_value)
    return grouped


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()
