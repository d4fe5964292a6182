"""Auto-close (``[auto_close]``): a ticket that waits for its client in vain is announced to
them, then closed.

A waiting period begins with an agent's public reply at T (their turn in ``ticket_turns``) on a
ticket that is ``waiting_for_user``, and lasts while no client turn follows.

- ``notice_days`` after T the client is told (``[auto_close] message``): a system message on the
  ticket, not internal, queued on the channel they last wrote from, at their address there
  (:func:`~threadline.core.fanout.client_address`). A client who cannot be reached there is not
  told, so the ticket is never closed behind their back: it is set ``unresolved`` instead, with
  an internal note saying why, and its agents are told.
- ``close_days`` after the notice went, the ticket is closed, with an internal note saying so,
  and its assignees are told.

A client's answer passes a turn: the period ends (their message also set ``waiting_for_agent``)
and nothing is closed; the agent's next reply begins a new period. An out-of-office answer
passes no turn, and cancels nothing.

Each effect is a row of ``reminders`` keyed (ticket, kind, due time), inserted in the
transaction that writes the effect, which is written only if that insert took the row: the
notice (or the finding that the client is unreachable) at T + ``notice_days``, the close at
(notice sent) + ``close_days``. So each happens once across restarts and daemons, and a period
gets one notice whatever the settings become.

**Beside the pipeline.** Each ticket is changed in a short transaction of its own, holding the
locks a pipeline batch takes before it reads a ticket (``core/batch_locks.py``), in the same
order: the batches' lock (shared), the sender keys of the client's ids, then
``ticket:<id>``. A client's message reaches the ticket by a ref, tag or token (its batch locks
the ticket) or, on a thread-less channel, as the client's latest ticket (its batch locks the
sender): either way the batch and this job take turns, and the job reads the status and the
turns again once it holds the locks. A conditional ``UPDATE ... WHERE status =
'waiting_for_user'`` would not be enough: a batch that read the ticket before the job closed it
would write its stale view back over the close. On SQLite, writers take turns anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, sessionmaker

from threadline.core.batch_locks import lock_batch, lock_keys
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.db import unit_of_work, upsert_insert
from threadline.core.external_ids import matching_types
from threadline.core.fanout import client_address
from threadline.core.lifecycle import set_status
from threadline.core.models import ClientExternalId, Reminder, Ticket, TicketTurn
from threadline.core.notify import Teller, payload, ticket_agents
from threadline.core.outbox import Outgoing
from threadline.core.schedule_settings import AutoCloseSettings
from threadline.core.settings import NotificationSettings
from threadline.core.store import store_message

NOTICE = "auto_close_notice"
UNREACHABLE = "auto_close_unreachable"
CLOSE = "auto_close"
MAX_TICKETS_PER_RUN = 200
"""Of each kind (notices, closes) per run; the rest goes next run, oldest first."""


@dataclass(frozen=True)
class AutoCloseRun:
    noticed: int
    closed: int
    unresolved: int


class _Due(NamedTuple):
    ticket_id: int
    client_id: int
    since: datetime
    """T: the agent's turn the period began with."""
    noticed_at: datetime | None = None


_turn = aliased(TicketTurn)
_last_turn = (
    select(_turn.id)
    .where(_turn.ticket_id == Ticket.id)
    .order_by(_turn.at.desc(), _turn.id.desc())
    .limit(1)
    .correlate(Ticket)
    .scalar_subquery()
)
"""The ticket's latest turn: one step down the (ticket_id, at) index."""
_notice = aliased(Reminder)


def _waiting(*more: InstrumentedAttribute[datetime]) -> Select[tuple[object, ...]]:
    """Tickets that wait for their client since an agent's turn: (ticket, client, the turn's
    time, ``more``)."""
    return (
        select(Ticket.id, Ticket.client_id, TicketTurn.at, *more)
        .select_from(Ticket)
        .join(TicketTurn, TicketTurn.id == _last_turn)
        .where(Ticket.status == "waiting_for_user", TicketTurn.side == "agent")
    )


def _to_notice(cutoff: datetime) -> Select[tuple[object, ...]]:
    """Waiting since before ``cutoff``, with no notice (nor unreachable client) this period."""
    told = exists().where(
        Reminder.ticket_id == Ticket.id,
        Reminder.kind.in_((NOTICE, UNREACHABLE)),
        Reminder.due_at > TicketTurn.at,
    )
    return _waiting().where(TicketTurn.at <= cutoff, ~told).order_by(TicketTurn.at)


def _to_close(cutoff: datetime) -> Select[tuple[object, ...]]:
    """Still waiting, told of it this period before ``cutoff``."""
    return (
        _waiting(_notice.created_at)
        .join(
            _notice,
            (_notice.ticket_id == Ticket.id)
            & (_notice.kind == NOTICE)
            & (_notice.due_at > TicketTurn.at),
        )
        .where(_notice.created_at <= cutoff)
        .order_by(_notice.created_at)
    )


def auto_close(
    sessions: sessionmaker[Session],
    settings: AutoCloseSettings,
    notifications: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    now: datetime,
) -> AutoCloseRun:
    """Closes and notices that fell due by ``now``, up to :data:`MAX_TICKETS_PER_RUN` of
    each. ``traits``: every channel's, to find where each client is reached."""
    if not settings.enabled:
        return AutoCloseRun(0, 0, 0)
    job = _Job(settings, notifications, traits, now)
    to_close = _to_close(now - timedelta(days=settings.close_days))
    to_notice = _to_notice(now - timedelta(days=settings.notice_days))
    with sessions() as session:
        closes = _candidates(session, to_close)
        notices = _candidates(session, to_notice)
    outcomes = [_once(sessions, due, to_close, job.close) for due in closes]
    outcomes += [_once(sessions, due, to_notice, job.notice) for due in notices]
    return AutoCloseRun(outcomes.count(NOTICE), outcomes.count(CLOSE), outcomes.count(UNREACHABLE))


def _candidates(session: Session, query: Select[tuple[object, ...]]) -> list[_Due]:
    return [_Due(*row) for row in session.execute(query.limit(MAX_TICKETS_PER_RUN))]


def _once(
    sessions: sessionmaker[Session],
    due: _Due,
    query: Select[tuple[object, ...]],
    effect: Callable[[Session, _Due], str | None],
) -> str | None:
    """The effect, in a transaction of its own, if the ticket is still as found once locked
    as a pipeline batch locks it: a message stored meanwhile may have ended its period."""
    with unit_of_work(sessions) as session:
        client_ids = session.execute(
            select(ClientExternalId.type, ClientExternalId.value).where(
                ClientExternalId.client_id == due.client_id
            )
        )
        senders = [
            f"sender:{kind}:{value}" for type, value in client_ids for kind in matching_types(type)
        ]
        if not lock_batch(session, senders):
            lock_keys(session, [f"ticket:{due.ticket_id}"])
        current = session.execute(query.where(Ticket.id == due.ticket_id)).first()
        if current is None or _Due(*current) != due:
            return None
        return effect(session, due)


def _take(session: Session, ticket_id: int, kind: str, due_at: datetime, now: datetime) -> bool:
    """True if this transaction's insert took the reminder, and so writes its effect."""
    insert = upsert_insert(session)(Reminder).values(
        ticket_id=ticket_id, kind=kind, due_at=due_at, created_at=now
    )
    taken = session.execute(insert.on_conflict_do_nothing().returning(Reminder.ticket_id))
    return taken.first() is not None


@dataclass(frozen=True)
class _Job:
    settings: AutoCloseSettings
    notifications: NotificationSettings
    traits: Mapping[str, ChannelTraits]
    now: datetime

    def notice(self, session: Session, due: _Due) -> str | None:
        """``NOTICE`` or ``UNREACHABLE``, as it went; None: it was done before."""
        due_at = due.since + timedelta(days=self.settings.notice_days)
        work = BatchWork(session, self.now)
        ticket = work.tickets.get(due.ticket_id)
        assert ticket is not None, "locked and read again"
        address = client_address(session, ticket, self.traits)
        if isinstance(address, str):
            if not _take(session, ticket.id, UNREACHABLE, due_at, self.now):
                return None
            set_status(ticket, "unresolved", self.now)
            text = (
                f"Set unresolved instead of closing automatically: {address}, so they cannot "
                "be told that the ticket will close."
            )
            note = store_message(work, ticket, None, text, channel=None, internal=True)
            content = f"#{ticket.id} {ticket.title}: waiting_for_user -> unresolved ({address})"
            tell = self._tell(work, ticket)
            tell(note, "status_changed", content, ticket_agents(work, ticket))
            work.flush()
            return UNREACHABLE
        if not _take(session, ticket.id, NOTICE, due_at, self.now):
            return None
        ticket.updated_at = self.now
        told = store_message(
            work, ticket, None, self.settings.message, channel=address.channel, internal=False
        )
        work.writes.outbox(
            Outgoing(
                channel=address.channel,
                kind="acknowledgement",
                recipient=address.recipient,
                payload=payload(ticket, told),
                idempotency_key=f"{NOTICE}:{ticket.id}:{due_at.isoformat()}",
                ticket_id=ticket.id,
                message_id=told.id,
            )
        )
        work.flush()
        return NOTICE

    def close(self, session: Session, due: _Due) -> str | None:
        """``CLOSE``; None: it was done before."""
        assert due.noticed_at is not None
        due_at = due.noticed_at + timedelta(days=self.settings.close_days)
        if not _take(session, due.ticket_id, CLOSE, due_at, self.now):
            return None
        work = BatchWork(session, self.now)
        ticket = work.tickets.get(due.ticket_id)
        assert ticket is not None, "locked and read again"
        set_status(ticket, "closed", self.now)
        text = (
            "Closed automatically: the client has not answered since the reply of "
            f"{due.since:%Y-%m-%d %H:%M} UTC, nor since they were told on "
            f"{due.noticed_at:%Y-%m-%d %H:%M} UTC that the ticket would close."
        )
        note = store_message(work, ticket, None, text, channel=None, internal=True)
        content = f"#{ticket.id} {ticket.title}: waiting_for_user -> closed automatically"
        self._tell(work, ticket)(note, "status_changed", content, work.tickets.assignees(ticket.id))
        work.flush()
        return CLOSE

    def _tell(self, work: BatchWork, ticket: Ticket) -> Teller:
        return Teller(work, ticket, self.notifications, self.traits)
