"""Which ticket a message belongs to, whatever order the messages arrive in.

Every external id a ticket's messages carry *or reference* is kept as a key of that ticket in
``message_refs``. A reply that arrives before the message it answers, or whose root never
arrives, still meets its siblings through the ids they share.

The rule when one message bridges several tickets (its references belong to more than one):
they were one conversation all along, so they are merged into the oldest (lowest id). The
absorbed tickets hand over their messages, refs, notifications, outbox rows, assignees and tags,
and stay behind closed, with ``custom_fields.merged_into`` naming the survivor. Because merging
is the same whichever message does the bridging, the final grouping does not depend on arrival
order.

Precedence: (1) a signed reply token, (2) stored refs, (3) a subject tag, honoured only for the
ticket's own client or an agent, (4) for thread-less channels the client's latest ticket,
(5) a new ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.identity import Author
from threadline.core.models import (
    Base,
    Message,
    MessageRef,
    Notification,
    OutboxItem,
    Ticket,
    ticket_assignments,
    ticket_tags,
)
from threadline.core.normalized import Classification, Inbound
from threadline.core.thread_refs import Ref
from threadline.core.tokens import ReplyToken, TokenSigner


@dataclass(frozen=True)
class ThreadMatch:
    ticket: Ticket | None
    """None: the message opens a new ticket."""
    via: str
    """token | reference | subject_tag | latest | new: logged, and handy in tests."""
    previous_ticket_id: int | None = None
    """The closed ticket a late reply answered; the new ticket records it."""
    duplicate_of: int | None = None
    """The stored message with the same own id: this is a redelivery, store nothing."""
    known_refs: frozenset[str] = frozenset()
    """Which of the message's thread keys are stored already (``record_refs`` adds the rest)."""


def verified_token(inbound: Inbound, signer: TokenSigner) -> ReplyToken | None:
    """The reply token where the message arrived, else one in an id of ours it answers."""
    hints = inbound.hints
    candidates = (*([hints.reply_token] if hints.reply_token else []), *hints.referenced_tokens)
    for candidate in candidates:
        token = signer.verify(candidate)
        if token is not None:
            return token
    return None


def thread_keys(inbound: Inbound) -> tuple[str, ...]:
    """The ids that bind a message to its conversation: its own and every one it names."""
    hints = inbound.hints
    keys = [*([hints.own_id] if hints.own_id else []), *hints.referenced]
    if hints.chat_thread:
        keys.append(hints.chat_thread)
    return tuple(dict.fromkeys(keys))


def find_thread(
    work: BatchWork,
    inbound: Inbound,
    author: Author,
    token: ReplyToken | None,
    reopen_window: timedelta,
) -> ThreadMatch:
    match = _match(work, inbound, author, token)
    ticket = match.ticket
    if (
        ticket is not None
        and ticket.status == "closed"
        and author.kind == "client"
        and not inbound.classification.is_automatic
        and (ticket.closed_at is None or ticket.closed_at < work.now - reopen_window)
    ):
        return replace(match, ticket=None, via="new", previous_ticket_id=ticket.id)
    return match


def _match(
    work: BatchWork, inbound: Inbound, author: Author, token: ReplyToken | None
) -> ThreadMatch:
    refs = work.refs.of(inbound.channel, thread_keys(inbound))
    known = frozenset(ref.external_id for ref in refs)
    duplicate = _duplicate_of(inbound, refs)
    if duplicate is not None:
        return ThreadMatch(None, "duplicate", duplicate_of=duplicate, known_refs=known)
    own_id = inbound.hints.own_id
    # Another message's own id, reused: no sign that this one answers it.
    refs = [ref for ref in refs if not (ref.external_id == own_id and ref.message_id is not None)]
    if author.claims_agent:
        return ThreadMatch(None, "new", known_refs=known)
    if token is not None:
        ticket = work.tickets.get(token.ticket_id)
        if ticket is not None:
            return ThreadMatch(ticket, "token", known_refs=known)
    ticket_ids = sorted({ref.ticket_id for ref in refs})
    if ticket_ids:
        survivor = work.tickets.get(ticket_ids[0])
        assert survivor is not None, "message_refs.ticket_id is a foreign key"
        if len(ticket_ids) > 1:
            merge_tickets(work.flush(), survivor, ticket_ids[1:], work.now)
            work.tickets_merged(survivor.id, ticket_ids[1:])
        return ThreadMatch(survivor, "reference", known_refs=known)
    tag = inbound.hints.subject_tag
    if tag is not None:
        ticket = work.tickets.get(tag)
        if ticket is not None and (author.kind == "agent" or ticket.client_id == author.client_id):
            return ThreadMatch(ticket, "subject_tag", known_refs=known)
    if inbound.hints.threadless and author.client_id is not None:
        latest = work.tickets.latest(author.client_id)
        if latest is not None:
            return ThreadMatch(latest, "latest", known_refs=known)
    return ThreadMatch(None, "new", known_refs=known)


def _duplicate_of(inbound: Inbound, refs: list[Ref]) -> int | None:
    """The stored message with this one's own id, when this is a re-delivery of it: always,
    unless both have delivery ids and they differ (another message under a reused own id). A
    message stored before delivery ids were kept has none, and still counts as the same."""
    hints = inbound.hints
    for ref in refs:
        if ref.external_id == hints.own_id and ref.message_id is not None:
            known = ref.delivery_id is not None and hints.delivery_id is not None
            return None if known and ref.delivery_id != hints.delivery_id else ref.message_id
    return None


def surely_new_tickets(
    work: BatchWork,
    inbounds: Sequence[Inbound],
    tokens: Sequence[ReplyToken | None],
    senders: Sequence[tuple[str, str] | None],
) -> int:
    """How many of a batch's messages will open a ticket, judged before handling them from the
    prefetched caches, so the new tickets' ids come in one allocation. It counts only what
    cannot continue anything: no token, no tag, no thread key stored or carried by an earlier
    message of the batch, not our own mail come back, and on a thread-less channel a sender
    not yet known. An id reserved for a message that then opens nothing would be a gap in the
    numbers people quote; a ticket not counted just takes an id of its own."""
    count = 0
    seen: set[tuple[str, str]] = set()
    for inbound, token, sender in zip(inbounds, tokens, senders, strict=True):
        keys = [(inbound.channel, key) for key in thread_keys(inbound)]
        if not (
            token is not None
            or inbound.internal
            or inbound.from_agents
            or inbound.receipts
            or inbound.hints.subject_tag is not None
            or inbound.classification is Classification.LOOP
            or seen.intersection(keys)
            or work.refs.of(inbound.channel, [key for _channel, key in keys])
            or (inbound.hints.threadless and (sender is None or work.senders.owners(*sender)))
        ):
            count += 1
        seen.update(keys)
    return count


def record_refs(
    work: BatchWork, inbound: Inbound, match: ThreadMatch, ticket_id: int, message_id: int
) -> None:
    """Bind every thread key of the message to its ticket; its own id also to the message."""
    hints = inbound.hints
    channel = inbound.channel
    for key in thread_keys(inbound):
        if key == hints.own_id and key not in match.known_refs:
            work.refs.add(channel, key, ticket_id, message_id, hints.delivery_id, hints.chat_thread)
        elif key not in match.known_refs:
            work.refs.add(channel, key, ticket_id, None)
    if hints.own_id in match.known_refs:
        work.refs.claim(channel, hints.own_id, message_id, hints.delivery_id, hints.chat_thread)


def merge_tickets(
    session: Session, survivor: Ticket, absorbed_ids: list[int], now: datetime
) -> None:
    """Move everything of ``absorbed_ids`` into ``survivor``; the absorbed stay, closed."""
    for model in (Message, MessageRef, Notification, OutboxItem):
        _move(session, model, survivor.id, absorbed_ids)
    for table, other in ((ticket_assignments, "user_id"), (ticket_tags, "tag_id")):
        kept = set(session.scalars(select(table.c[other]).where(table.c.ticket_id == survivor.id)))
        moved = set(
            session.scalars(select(table.c[other]).where(table.c.ticket_id.in_(absorbed_ids)))
        )
        if moved - kept:
            session.execute(
                insert(table), [{"ticket_id": survivor.id, other: v} for v in moved - kept]
            )
        session.execute(delete(table).where(table.c.ticket_id.in_(absorbed_ids)))
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(absorbed_ids))):
        ticket.status = "closed"
        ticket.closed_at = ticket.closed_at or now
        ticket.updated_at = now
        ticket.custom_fields = {**(ticket.custom_fields or {}), "merged_into": survivor.id}
    session.flush()


def _move(session: Session, model: type[Base], survivor_id: int, absorbed_ids: list[int]) -> None:
    column: Any = model.ticket_id  # type: ignore[attr-defined]
    session.execute(update(model).where(column.in_(absorbed_ids)).values(ticket_id=survivor_id))
