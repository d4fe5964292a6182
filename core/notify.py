"""Telling agents: a ``notifications`` row for each (their list of what happened), and a
delivery on their channel where they want that type delivered.

Deactivated agents are told nothing. The outbox key names the message that caused it, the
agent and the type, so re-handling an item queues nothing twice, and one message can still
cause several kinds (an ``#assign`` with a ``#status``).

A burst of client messages is coalesced: each message's delivery is held until the end of its
window (``[notifications] coalesce_seconds``, counted from the Unix epoch, so every message of
the window names the same end) and marked with it, and the dispatcher sends the deliveries of
one window, ticket and agent as one (``core/dispatcher.py``). The rows in ``notifications``
stay one per message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import update

from threadline.core.agent_addresses import agent_addresses
from threadline.core.agent_roster import AgentRoster, agent_roster
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.models import Notification, Ticket
from threadline.core.outbox import Outgoing
from threadline.core.rows import NotificationRow
from threadline.core.settings import NotificationSettings
from threadline.core.store import StoredMessage, store_message

COALESCED = frozenset({"ticket_created", "client_replied"})
EPOCH = datetime(1970, 1, 1)
Hold = Callable[[int], datetime | None]
"""The earliest time a delivery to this agent may go out; None: at once."""


def notify(
    work: BatchWork,
    ticket: Ticket,
    message: StoredMessage,
    kind: str,
    content: str,
    user_ids: Collection[int],
    settings: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    hold: Hold | None = None,
) -> int:
    """Answers how many deliveries were queued."""
    window = window_end(work.now, settings.coalesce_seconds) if kind in COALESCED else None
    burst = {"burst": window.isoformat()} if window else {}

    def delivery(user_id: int, channel: str, recipient: str) -> Outgoing:
        return Outgoing(
            channel=channel,
            kind="notification",
            recipient=recipient,
            payload={**payload(ticket, message), "type": kind, "agent_id": user_id, **burst},
            idempotency_key=f"notification:{message.id}:{user_id}:{kind}",
            ticket_id=ticket.id,
            message_id=message.id,
            not_before=window or (hold(user_id) if hold else None),
        )

    def row(user_id: int) -> NotificationRow:
        return NotificationRow(user_id, ticket.id, kind, content, work.now)

    return tell_each(work, agent_roster(work), user_ids, kind, settings, traits, row, delivery)


def tell_each(
    work: BatchWork,
    people: AgentRoster,
    user_ids: Collection[int],
    kind: str,
    settings: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    row: Callable[[int], NotificationRow],
    delivery: Callable[[int, str, str], Outgoing],
) -> int:
    """A ``notifications`` row for each active one of ``user_ids``, and a delivery
    (``delivery(user, channel, recipient)``) where they can be reached and want ``kind``
    delivered; answers how many deliveries were queued."""
    addresses = agent_addresses(work, settings.channel, traits)
    queued = 0
    for user_id, email in people.active(user_ids):
        work.writes.notification(row(user_id))
        destination = addresses.of(user_id, email)
        if destination is None or not people.delivers(user_id, kind, settings.deliver):
            continue
        work.writes.outbox(delivery(user_id, *destination))
        queued += 1
    return queued


class Teller:
    """:func:`notify` about one ticket, with the desk's settings."""

    def __init__(
        self,
        work: BatchWork,
        ticket: Ticket,
        settings: NotificationSettings,
        traits: Mapping[str, ChannelTraits],
        hold: Hold | None = None,
    ) -> None:
        self._work, self._ticket, self._settings, self._traits = work, ticket, settings, traits
        self._hold = hold

    def __call__(
        self, message: StoredMessage, kind: str, content: str, user_ids: Collection[int]
    ) -> int:
        return notify(
            self._work,
            self._ticket,
            message,
            kind,
            content,
            user_ids,
            self._settings,
            self._traits,
            self._hold,
        )

    def author(self, note: str, user_id: int) -> None:
        """An internal note on the ticket saying what became of an agent's reply, and the same
        to them (``command_failed``), where they work: a mail client shows no notes."""
        work, ticket = self._work, self._ticket
        message = store_message(work, ticket, None, note, channel=None, internal=True)
        self(message, "command_failed", f"#{ticket.id} {ticket.title}: {note}", {user_id})


def window_end(now: datetime, seconds: int) -> datetime | None:
    """The end of the coalescing window ``now`` falls in; None when nothing is coalesced."""
    if not seconds:
        return None
    period = timedelta(seconds=seconds)
    return EPOCH + ((now - EPOCH) // period + 1) * period


def mark_read(work: BatchWork, user_id: int, ticket_id: int) -> None:
    """The agent's notifications about the ticket, as far as stored: they have seen it."""
    work.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.ticket_id == ticket_id,
            Notification.is_read.is_(False),
        )
        .values(is_read=True),
        execution_options={"synchronize_session": False},
    )


def ticket_agents(work: BatchWork, ticket: Ticket) -> set[int]:
    """Who hears of a ticket: its active assignees, else its department's agents, else every
    agent: someone must hear."""
    roster = agent_roster(work)
    for chosen in (
        work.tickets.assignees(ticket.id),
        roster.department_members(ticket.department_id),
        {user_id for user_id, _email in roster.agents},
    ):
        active = {user_id for user_id, _email in roster.active(chosen)}
        if active:
            return active
    return set()


def payload(ticket: Ticket, message: StoredMessage) -> dict[str, object]:
    return {
        "ticket_id": ticket.id,
        "message_id": message.id,
        "subject": ticket.title,
        "body": message.body,
    }
