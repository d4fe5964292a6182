"""The steps every inbound message goes through, in order, each one small function of one
shape, after Mailman's pipelines: ``step(work, message, settings)`` reads and fills the
:class:`InFlight` message and returns an :class:`Outcome` to end its handling early, or None to
go on. Adding a rule (an attachment policy, an SLA clock) is one function here and one line in
:data:`STEPS`; each rule itself lives in a module of core named after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from threadline.core.agent_commands import (
    COMMANDS,
    AgentReply,
    Desk,
    apply_commands,
    parse_agent_reply,
)
from threadline.core.assignment_rules import rule_for, take
from threadline.core.batch_work import BatchWork
from threadline.core.bounces import record_bounces
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.delivery_receipts import record_receipts
from threadline.core.fanout import FanOut, fan_out
from threadline.core.identity import Author, resolve_author
from threadline.core.lifecycle import on_message, raise_priority
from threadline.core.models import Ticket
from threadline.core.normalized import Classification, Inbound
from threadline.core.notify import Teller, mark_read
from threadline.core.outcome import Outcome, Park, TooEarly
from threadline.core.routing import assign, route, strategy_of
from threadline.core.rows import TurnRow
from threadline.core.screening import outbound_allowed
from threadline.core.settings import (
    AssignmentSettings,
    AttachmentSettings,
    IdentitySettings,
    NotificationSettings,
    RoutingSettings,
    ThreadingSettings,
    TicketSettings,
)
from threadline.core.store import (
    StoredMessage,
    open_ticket,
    sent_time,
    store_attachments,
    store_full_text,
    store_message,
)
from threadline.core.threader import ThreadMatch, find_thread, record_refs
from threadline.core.tokens import ReplyToken
from threadline.core.undelivered import Undelivered


@dataclass(frozen=True)
class PipelineSettings:
    identity: IdentitySettings
    threading: ThreadingSettings
    tickets: TicketSettings
    routing: RoutingSettings
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    assignment: AssignmentSettings = field(default_factory=AssignmentSettings)
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)
    traits: Mapping[str, ChannelTraits] = field(default_factory=dict)
    """Each channel's, by name; a channel not named has :data:`DEFAULT_TRAITS`."""
    suppress_bounced_for: Mapping[str, timedelta] = field(default_factory=dict)
    """Per channel, how long an address that bounced hard receives nothing; a channel not
    named, or zero: never suppressed."""
    feeds: Mapping[str, str] = field(default_factory=dict)
    """The channels that keep the agents a feed of every ticket, with where each posts it."""

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.threading.reopen_window_days)


@dataclass
class InFlight:
    """One message on its way through the steps; each step fills what the later ones read
    (a field read before the step that sets it runs is an AttributeError, a bug in the order)."""

    inbound: Inbound
    token: ReplyToken | None
    accepted_at: datetime
    """When the item was accepted: the message's time unless it carries a plausible one."""
    author: Author = field(init=False)
    match: ThreadMatch = field(init=False)
    ticket: Ticket = field(init=False)
    created: bool = False
    allowed: bool = False
    """Anything outbound may follow (not a storm from one sender)."""
    reply: AgentReply | None = None
    message: StoredMessage = field(init=False)


Step = Callable[[BatchWork, InFlight, PipelineSettings], Outcome | None]


def receipts(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """A delivery report is no message: it moves the rows it names, and that is all."""
    inbound = it.inbound
    if not inbound.receipts:
        return None
    undelivered = Undelivered(settings.notifications, settings.traits)
    moved = record_receipts(work, inbound.channel, inbound.receipts, undelivered)
    if moved:
        return Outcome("done")
    return Outcome("ignored", reason="a delivery report that moves no row forward")


def skip_our_own(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    if it.inbound.classification is Classification.LOOP:
        return Outcome("ignored", reason="our own message came back (loop header)")
    if it.inbound.hints.answers_notice:
        if it.inbound.classification.is_automatic:
            return Outcome("ignored", reason="an automatic answer to a notice of ours")
        raise Park(
            "a reply to a notice that concerns no single ticket (a digest, stuck items): "
            "it belongs to no conversation; answer a ticket from its own notification"
        )
    return None


def identify(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    inbound = it.inbound
    traits = traits_of(settings.traits, inbound.channel)
    if inbound.from_agents:
        it.author = _agent(work, it, settings.identity, traits)
        return None
    it.author = resolve_author(
        work, inbound.sender, token=it.token, settings=settings.identity, traits=traits
    )
    return None


def _agent(
    work: BatchWork, it: InFlight, identity: IdentitySettings, traits: ChannelTraits
) -> Author:
    """Where only agents talk, anyone else is parked: a colleague not linked yet is no client."""
    sender = it.inbound.sender
    try:
        author = resolve_author(
            work,
            sender,
            token=it.token,
            settings=identity.model_copy(update={"unknown_sender": "park"}),
            traits=traits,
        )
    except Park:
        author = None
    if author is None or author.kind != "agent":
        raise Park(
            f"{sender.type} user {sender.value} wrote where only agents talk, but is linked to "
            f"no agent: `threadline users link EMAIL {sender.type} {sender.value}`, then "
            "retry the item"
        )
    return author


def thread(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    it.match = find_thread(work, it.inbound, it.author, it.token, settings.reopen_window)
    duplicate = it.match.duplicate_of
    if duplicate is not None:
        return Outcome("ignored", message_id=duplicate, reason=f"duplicate of message {duplicate}")
    return None


def ticket(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """The thread's ticket; a message that continues nothing opens one, routed and assigned."""
    if it.match.ticket is not None:
        it.ticket = it.match.ticket
        return None
    if it.inbound.internal:
        return Outcome("ignored", reason="a note about a message that was not stored here")
    if it.author.client_id is None:
        hints = it.inbound.hints
        if hints.chat_thread is not None and hints.chat_thread != hints.own_id:
            raise TooEarly(
                "an agent's answer in a thread of no ticket, or of our post not recorded yet: "
                "agents answer in the thread of a ticket's post"
            )
        raise Park(
            "an agent's message matches no ticket: agents answer through a ticket's reply "
            "address or thread"
        )
    routing, assignment = settings.routing, settings.assignment
    department_id, priority = route(work.session, it.inbound.receiving_address, routing)
    it.ticket = open_ticket(
        work, it.inbound, it.author.client_id, department_id, it.match.previous_ticket_id
    )
    raise_priority(it.ticket, priority)
    it.created = True
    rule = (
        rule_for(work.session, it.author.client_id, assignment.rules) if assignment.rules else None
    )
    if rule is not None and rule.l1:
        take(work, it.ticket, rule.l1, routing, assignment)
        return None
    strategy = routing.assignment
    if department_id is not None and assignment.strategies:
        strategy = strategy_of(work.session, department_id, routing, assignment)
    # An assignment row references the ticket, so the ticket is written first (unless nobody
    # is ever assigned, the default: then the ticket stays buffered).
    session = work.session if strategy == "none" else work.written(it.ticket.id)
    for agent in assign(session, it.ticket.id, department_id, strategy, work.now):
        work.tickets.assigned(it.ticket.id, agent)
    return None


def screen(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    limit = settings.tickets.sender_rate_limit
    it.allowed = outbound_allowed(work, it.inbound, it.author, limit)
    return None


def store(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """An agent's commands are read first: a reply that is only commands (``#close``) is kept
    as the agent's internal note, so the ticket shows who did it, and nothing empty is sent."""
    inbound = it.inbound
    body, internal = inbound.body, inbound.internal
    if it.author.kind == "agent" and not internal:
        it.reply = parse_agent_reply(inbound.body)
        body, internal = (it.reply.text, it.reply.internal) if it.reply.text else (body, True)
    it.message = store_message(
        work,
        it.ticket,
        it.author,
        body,
        channel=inbound.channel,
        internal=internal,
        sent_at=sent_time(inbound.sent_at, it.accepted_at),
    )
    store_full_text(work, it.message, inbound.full_text)
    held = store_attachments(work, it.message, inbound, settings.attachments)
    if held:
        note = (
            "Held back (quarantined), kept but not forwarded:\n"
            + "\n".join(held)
            + "\n`threadline attachments list` shows them, `threadline attachments release ID` "
            "lets them go."
        )
        store_message(work, it.ticket, None, note, channel=None, internal=True)
    return None


def bounces(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    inbound = it.inbound
    if inbound.bounces:
        suppress_for = settings.suppress_bounced_for.get(inbound.channel, timedelta(0))
        record_bounces(work.session, inbound.channel, inbound.bounces, suppress_for, work.now)
    return None


def refs(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    record_refs(work, it.inbound, it.match, it.ticket.id, it.message.id)
    return None


def status(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """A message that passes the turn is recorded as such: the SLA clocks and auto-close are
    computed from these turns."""
    automatic = it.inbound.classification.is_automatic
    from_client = it.author.kind == "client"
    if not it.message.is_internal and not automatic:
        work.writes.turn(TurnRow(it.ticket.id, work.now, "client" if from_client else "agent"))
        if from_client:
            raise_priority(it.ticket, it.inbound.priority)
    on_message(
        it.ticket,
        from_client=from_client,
        internal=it.message.is_internal,
        automatic=automatic,
        now=work.now,
    )
    return None


def commands(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """A reply held back, or a command that cannot be applied, leaves an internal note saying
    why and tells the agent; what the commands changed is told to the others it concerns."""
    reply, ticket, author = it.reply, it.ticket, it.author
    if reply is None or author.user_id is None:
        return None
    tell = Teller(work, ticket, settings.notifications, settings.traits)
    if reply.unknown:
        note = (
            f"Reply held back, not sent to the client: {', '.join(reply.unknown)} is no "
            f"command (the commands: {', '.join('#' + name for name in COMMANDS)}). Send it "
            "again without that line, or with the command spelt right."
        )
        tell.author(note, author.user_id)
        return None
    status, assignees = ticket.status, set(work.tickets.assignees(ticket.id))
    desk = Desk(author.address, settings.routing, settings.assignment)
    applied = apply_commands(work, ticket, reply.commands, desk)
    if applied.problems:
        tell.author("Commands not applied:\n" + "\n".join(applied.problems), author.user_id)
    others = set(work.tickets.assignees(ticket.id)) - {author.user_id}
    if ticket.status != status and any(c.name in ("close", "status") for c in reply.commands):
        content = f"#{ticket.id} {ticket.title}: {status} -> {ticket.status} by {author.address}"
        tell(it.message, "status_changed", content, others)
    if applied.escalated is not None:
        content = f"#{ticket.id} {ticket.title}: escalated by {author.address}"
        tell(applied.escalated.note, "escalated", content, applied.escalated.tell)
    else:
        content = f"#{ticket.id} {ticket.title}: assigned to you by {author.address}"
        tell(it.message, "ticket_assigned", content, others - assignees)
    return None


def notify(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
    """An agent who writes on a ticket has read what they were told about it."""
    if it.author.kind == "agent" and it.author.user_id is not None:
        mark_read(work, it.author.user_id, it.ticket.id)
    reply = it.reply
    if reply is not None and reply.unknown:
        return None
    if reply is not None and it.author.user_id is not None and reply.internal and reply.text:
        tell = Teller(work, it.ticket, settings.notifications, settings.traits)
        others = set(work.tickets.assignees(it.ticket.id)) - {it.author.user_id}
        content = f"#{it.ticket.id} {it.ticket.title}: a note by {it.author.address}"
        tell(it.message, "note_added", content, others)
    if it.allowed and not it.inbound.internal:
        event = FanOut(
            ticket=it.ticket,
            message=it.message,
            author=it.author,
            channel=it.inbound.channel,
            created_ticket=it.created,
            acknowledge=settings.tickets.acknowledge_new_tickets,
            delivered=it.inbound.in_clients_view,
        )
        fan_out(work, event, settings.notifications, settings.traits, settings.feeds)
    return None


STEPS: tuple[Step, ...] = (
    receipts,
    skip_our_own,
    identify,
    thread,
    ticket,
    screen,
    store,
    bounces,
    refs,
    status,
    commands,
    notify,
)
"""The order every message goes through."""
