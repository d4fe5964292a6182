"""One inbound item, start to finish: parse -> screen -> identify -> thread -> store -> fan out.

Each step is a small rule in its own module; this file only orders them, the way Mailman's
pipelines do. Everything runs in the caller's transaction (the processor's SAVEPOINT for the
item), so an item either leaves all its traces or none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.agent_commands import AgentReply, apply_commands, parse_agent_reply
from core.fanout import FanOut, fan_out
from core.identity import Author, resolve_author
from core.lifecycle import on_message
from core.models import InboundItem, Ticket
from core.normalized import Classification, Inbound
from core.outcome import Outcome, Park
from core.parsers import ParserRegistry, UnknownChannel
from core.routing import assign, route
from core.screening import outbound_allowed
from core.settings import IdentitySettings, RoutingSettings, ThreadingSettings, TicketSettings
from core.store import open_ticket, store_attachments, store_message
from core.threader import find_thread, record_refs, verified_token
from core.tokens import TokenSigner


@dataclass(frozen=True)
class PipelineSettings:
    identity: IdentitySettings
    threading: ThreadingSettings
    tickets: TicketSettings
    routing: RoutingSettings


class Pipeline:
    def __init__(
        self,
        parsers: ParserRegistry,
        signer: TokenSigner,
        settings: PipelineSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._parsers = parsers
        self._signer = signer
        self._settings = settings
        self._clock = clock
        self._reopen_window = timedelta(days=settings.threading.reopen_window_days)

    def handle(self, session: Session, item: InboundItem) -> Outcome:
        """The processor's handler: parse the raw item, then handle the message."""
        try:
            inbound = self._parsers.parse(item.channel, item.raw, item.meta or {})
        except UnknownChannel as error:
            raise Park(str(error)) from None
        return self.handle_inbound(session, inbound)

    def handle_inbound(self, session: Session, inbound: Inbound) -> Outcome:
        if inbound.classification is Classification.LOOP:
            return Outcome("ignored", reason="our own message came back (loop header)")
        now = self._clock()
        settings = self._settings
        token = verified_token(inbound, self._signer)
        author = resolve_author(
            session, inbound.sender, token=token, settings=settings.identity, now=now
        )
        match = find_thread(session, inbound, author, token, now, self._reopen_window)
        if match.duplicate_of is not None:
            return Outcome(
                "ignored",
                message_id=match.duplicate_of,
                reason=f"duplicate of message {match.duplicate_of}",
            )
        ticket = match.ticket
        created = ticket is None
        if ticket is None:
            ticket = self._open(session, inbound, author, match.previous_ticket_id, now)
        allowed = outbound_allowed(
            session, inbound, author, settings.tickets.sender_rate_limit, now
        )
        reply = parse_agent_reply(inbound.body) if author.kind == "agent" else None
        body, internal = inbound.body, False
        if reply is not None:
            # A reply that is only commands ("#close") is kept as the agent's internal note,
            # so the ticket shows who did it, and nothing empty is sent to the client.
            body, internal = (reply.text, reply.internal) if reply.text else (body, True)
        message = store_message(
            session, ticket, author, body, channel=inbound.channel, internal=internal, now=now
        )
        store_attachments(session, message, inbound)
        record_refs(session, inbound, match, ticket.id, message.id)
        on_message(
            ticket,
            from_client=author.kind == "client",
            internal=message.is_internal,
            automatic=inbound.classification.is_automatic,
            now=now,
        )
        if reply is not None:
            self._apply_commands(session, ticket, reply, now)
        if allowed:
            fan_out(
                session,
                FanOut(
                    ticket=ticket,
                    message=message,
                    author=author,
                    channel=inbound.channel,
                    created_ticket=created,
                    acknowledge=settings.tickets.acknowledge_new_tickets,
                ),
            )
        return Outcome("done", message_id=message.id)

    def _open(
        self,
        session: Session,
        inbound: Inbound,
        author: Author,
        previous_ticket_id: int | None,
        now: datetime,
    ) -> Ticket:
        if author.client_id is None:
            raise Park(
                "an agent's message matches no ticket: agents answer through a ticket's reply "
                "address or thread"
            )
        routing = self._settings.routing
        department_id = route(session, inbound.receiving_address, routing)
        ticket = open_ticket(
            session, inbound, author.client_id, department_id, previous_ticket_id, now
        )
        assign(session, ticket.id, department_id, routing.assignment, now)
        return ticket

    def _apply_commands(
        self, session: Session, ticket: Ticket, reply: AgentReply, now: datetime
    ) -> None:
        problems = apply_commands(session, ticket, reply.commands, now)
        if problems:
            store_message(
                session,
                ticket,
                None,
                "Commands not applied:\n" + "\n".join(problems),
                channel=None,
                internal=True,
                now=now,
            )
