"""Inbound items, start to finish: parse -> screen -> identify -> thread -> store -> fan out.

Each step is a small rule in its own module; this file only orders them, the way Mailman's
pipelines do. A batch of items runs as one :class:`BatchWork` in the caller's transaction (the
processor's batch, or an item's SAVEPOINT when it isolates a failure), so a batch either leaves
all its traces or none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from threadline.core.agent_commands import AgentReply, apply_commands, parse_agent_reply
from threadline.core.batch_work import BatchWork
from threadline.core.bounces import record_bounces
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.fanout import FanOut, fan_out
from threadline.core.identity import Author, create_unknown_senders, resolve_author, sender_key
from threadline.core.lifecycle import on_message
from threadline.core.models import Ticket
from threadline.core.normalized import Classification, Inbound
from threadline.core.outcome import Outcome, Park
from threadline.core.processor import QueuedItem
from threadline.core.routing import assign, route
from threadline.core.screening import outbound_allowed
from threadline.core.settings import (
    IdentitySettings,
    NotificationSettings,
    RoutingSettings,
    ThreadingSettings,
    TicketSettings,
)
from threadline.core.store import open_ticket, store_attachments, store_message
from threadline.core.threader import (
    find_thread,
    record_refs,
    surely_new_tickets,
    thread_keys,
    verified_token,
)
from threadline.core.tokens import ReplyToken, TokenSigner


@dataclass(frozen=True)
class PipelineSettings:
    identity: IdentitySettings
    threading: ThreadingSettings
    tickets: TicketSettings
    routing: RoutingSettings
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    traits: Mapping[str, ChannelTraits] = field(default_factory=dict)
    """Each channel's, by name; a channel not named has :data:`DEFAULT_TRAITS`."""
    suppress_bounced_for: Mapping[str, timedelta] = field(default_factory=dict)
    """Per channel, how long an address that bounced hard receives nothing; a channel not
    named, or zero: never suppressed."""


class Pipeline:
    def __init__(
        self,
        signer: TokenSigner,
        settings: PipelineSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._signer = signer
        self._settings = settings
        self._clock = clock
        self._reopen_window = timedelta(days=settings.threading.reopen_window_days)

    def handle(self, session: Session, items: Sequence[QueuedItem]) -> list[Outcome]:
        """The processor's handler, its items parsed by :class:`ParseAhead` as its
        ``prepare``: an item whose parse failed raises that failure, as its own."""
        inbounds = []
        for item in items:
            if isinstance(item.prepared, Exception):
                raise item.prepared
            if not isinstance(item.prepared, Inbound):
                raise TypeError(f"inbound item {item.id} was not parsed ahead")
            inbounds.append(item.prepared)
        return self.handle_inbounds(session, inbounds)

    def handle_inbounds(self, session: Session, inbounds: Sequence[Inbound]) -> list[Outcome]:
        """Handle the messages in order as one unit of work: what they need is prefetched in a
        few set queries, what they write is sent in a few multi-row statements at the end."""
        work = BatchWork(session, self._clock())
        tokens = [verified_token(inbound, self._signer) for inbound in inbounds]
        identity = self._settings.identity
        senders = [sender_key(inbound.sender, identity) for inbound in inbounds]
        work.prefetch(
            senders=[key for key in senders if key is not None],
            keys=[(inbound.channel, key) for inbound in inbounds for key in thread_keys(inbound)],
            ticket_ids=[
                *(token.ticket_id for token in tokens if token is not None),
                *(tag for inbound in inbounds if (tag := inbound.hints.subject_tag) is not None),
            ],
        )
        create_unknown_senders(work, inbounds, tokens, senders, identity, self._settings.traits)
        work.ids.reserve("tickets", surely_new_tickets(work, inbounds, tokens, senders))
        outcomes = [
            self._handle(work, inbound, token)
            for inbound, token in zip(inbounds, tokens, strict=True)
        ]
        work.flush()
        return outcomes

    def _handle(self, work: BatchWork, inbound: Inbound, token: ReplyToken | None) -> Outcome:
        if inbound.classification is Classification.LOOP:
            return Outcome("ignored", reason="our own message came back (loop header)")
        settings = self._settings
        author = resolve_author(
            work,
            inbound.sender,
            token=token,
            settings=settings.identity,
            traits=traits_of(settings.traits, inbound.channel),
        )
        match = find_thread(work, inbound, author, token, self._reopen_window)
        if match.duplicate_of is not None:
            return Outcome(
                "ignored",
                message_id=match.duplicate_of,
                reason=f"duplicate of message {match.duplicate_of}",
            )
        ticket = match.ticket
        created = ticket is None
        if ticket is None:
            ticket = self._open(work, inbound, author, match.previous_ticket_id)
        allowed = outbound_allowed(work, inbound, author, settings.tickets.sender_rate_limit)
        reply = parse_agent_reply(inbound.body) if author.kind == "agent" else None
        body, internal = inbound.body, False
        if reply is not None:
            # A reply that is only commands ("#close") is kept as the agent's internal note,
            # so the ticket shows who did it, and nothing empty is sent to the client.
            body, internal = (reply.text, reply.internal) if reply.text else (body, True)
        message = store_message(
            work, ticket, author, body, channel=inbound.channel, internal=internal
        )
        store_attachments(work, message, inbound)
        if inbound.bounces:
            record_bounces(
                work.session,
                inbound.channel,
                inbound.bounces,
                settings.suppress_bounced_for.get(inbound.channel, timedelta(0)),
                work.now,
            )
        record_refs(work, inbound, match, ticket.id, message.id)
        on_message(
            ticket,
            from_client=author.kind == "client",
            internal=message.is_internal,
            automatic=inbound.classification.is_automatic,
            now=work.now,
        )
        if reply is not None:
            self._apply_commands(work, ticket, reply)
        if allowed:
            fan_out(
                work,
                FanOut(
                    ticket=ticket,
                    message=message,
                    author=author,
                    channel=inbound.channel,
                    created_ticket=created,
                    acknowledge=settings.tickets.acknowledge_new_tickets,
                ),
                settings.notifications,
                settings.traits,
            )
        return Outcome("done", message_id=message.id)

    def _open(
        self, work: BatchWork, inbound: Inbound, author: Author, previous_ticket_id: int | None
    ) -> Ticket:
        if author.client_id is None:
            raise Park(
                "an agent's message matches no ticket: agents answer through a ticket's reply "
                "address or thread"
            )
        routing = self._settings.routing
        department_id = route(work.session, inbound.receiving_address, routing)
        ticket = open_ticket(work, inbound, author.client_id, department_id, previous_ticket_id)
        # An assignment row references the ticket, so the ticket is written first (unless
        # nobody is ever assigned, the default: then the ticket stays buffered).
        session = work.session if routing.assignment == "none" else work.written(ticket.id)
        for agent in assign(session, ticket.id, department_id, routing.assignment, work.now):
            work.assigned(ticket.id, agent)
        return ticket

    def _apply_commands(self, work: BatchWork, ticket: Ticket, reply: AgentReply) -> None:
        problems = apply_commands(work, ticket, reply.commands)
        if problems:
            store_message(
                work,
                ticket,
                None,
                "Commands not applied:\n" + "\n".join(problems),
                channel=None,
                internal=True,
            )
