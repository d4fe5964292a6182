"""The SLA job: each tick computes the clocks of the tickets that changed, then sends the
reminders that fell due.

**Clocks.** A ticket whose ``updated_at`` differs from the one its clocks were computed for
(``sla_tickets``) is computed again from its turns (``core/sla_clocks.py``): its running clocks
replace its rows in ``sla_clocks``, and a copy of the due times goes into the ticket's
``custom_fields["sla"]`` for other tools to show. That copy is written only if the ticket is
still as read (same ``updated_at``), so a message stored meanwhile is never overwritten; the
changed ticket is computed again next tick. Each tick computes at most
:data:`MAX_TICKETS_PER_TICK` tickets, so a first run over a large desk spreads over ticks.

**Reminders.** Per clock: a warning ``warn_minutes`` before the due time to the ticket's
agents, a breach at the due time to them (and an escalation to the second line if configured),
and ``department_after_minutes`` later a breach to the department's other agents. Each is a row
in ``reminders`` keyed (ticket, target:kind, due time), inserted in the transaction that
writes its note and notifications, and written only if that insert took the row: it fires once
across restarts and daemons. A reminder found late fires if still meaningful (no warning after
the due time). It is sent only if the ticket's clocks are current, under the ticket's lock, so
a reply that just met the target stops it. Deliveries wait for the recipient's working hours
(their calendar, else the target's) unless the ticket is urgent; the note and the row in
``notifications`` are written at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.agent_roster import agent_roster
from threadline.core.batch_locks import lock_batch
from threadline.core.batch_work import BatchWork
from threadline.core.business_time import Calendar
from threadline.core.channel_traits import ChannelTraits
from threadline.core.db import unit_of_work, upsert_insert
from threadline.core.escalation import escalate
from threadline.core.models import (
    AgentSettings,
    Department,
    Notification,
    Reminder,
    SlaClock,
    SlaTicket,
    Ticket,
    TicketTurn,
)
from threadline.core.notify import Hold, Teller, ticket_agents
from threadline.core.schedule_settings import SlaSettings, SlaTarget
from threadline.core.settings import AssignmentSettings, NotificationSettings, RoutingSettings
from threadline.core.sla_clocks import STOPPED, TicketClock, Turn, due_times
from threadline.core.store import store_message

MAX_TICKETS_PER_TICK = 2000
COMPUTE_BATCH = 1000
MAX_REMINDERS_PER_TICK = 300
REMIND_BATCH = 200
STAGES = ("warning", "breach", "department")
WORDS = {"first_response": "First response", "next_response": "Reply", "resolution": "Resolution"}

_tickets = Ticket.__table__
_changed = (
    select(
        Ticket.id,
        Ticket.created_at,
        Ticket.updated_at,
        Ticket.status,
        Ticket.priority,
        Ticket.department_id,
        Ticket.custom_fields,
    )
    .outerjoin(SlaTicket, SlaTicket.ticket_id == Ticket.id)
    .where(
        or_(
            and_(SlaTicket.ticket_id.is_(None), Ticket.status.not_in(STOPPED)),
            SlaTicket.seen_updated_at != Ticket.updated_at,
        )
    )
    .order_by(Ticket.id)
    .limit(bindparam("limit"))
)
_turns = (
    select(TicketTurn.ticket_id, TicketTurn.at, TicketTurn.side)
    .where(TicketTurn.ticket_id.in_(bindparam("ids", expanding=True)))
    .order_by(TicketTurn.ticket_id, TicketTurn.at, TicketTurn.id)
)
_copy = (
    _tickets.update()
    .where(_tickets.c.id == bindparam("ticket"), _tickets.c.updated_at == bindparam("seen"))
    .values(custom_fields=bindparam("fields"))
)


@dataclass(frozen=True)
class SlaDesk:
    """What the SLA job reads of the configuration."""

    sla: SlaSettings
    calendars: Mapping[str, Calendar]
    notifications: NotificationSettings
    traits: Mapping[str, ChannelTraits]
    routing: RoutingSettings
    assignment: AssignmentSettings

    def calendar(self, name: str | None) -> Calendar:
        return self.calendars.get(name or "", Calendar())


@dataclass(frozen=True)
class SlaTick:
    computed: int
    """Tickets whose clocks were computed."""
    reminded: int
    """Reminders that fired."""


def run_sla(sessions: sessionmaker[Session], desk: SlaDesk, now: datetime) -> SlaTick:
    """One tick: computing first, so that a reminder goes out only for current clocks."""
    if not desk.sla.targets:
        return SlaTick(0, 0)
    computed = 0
    while computed < MAX_TICKETS_PER_TICK:
        with unit_of_work(sessions) as session:
            count = _compute(session, desk)
        computed += count
        if count < COMPUTE_BATCH:
            break
    return SlaTick(computed, _remind(sessions, desk, now))


def target_for(desk: SlaDesk, department: str | None, priority: str) -> SlaTarget | None:
    for target in desk.sla.targets:
        if target.department and target.department != department:
            continue
        if target.priority and target.priority != priority:
            continue
        return target
    return None


def _compute(session: Session, desk: SlaDesk) -> int:
    rows = session.execute(_changed, {"limit": COMPUTE_BATCH}).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    turns: dict[int, list[Turn]] = {}
    for ticket_id, at, side in session.execute(_turns, {"ids": ids}):
        turns.setdefault(ticket_id, []).append((at, side))
    departments = {
        row.id: row.name for row in session.execute(select(Department.id, Department.name))
    }
    clocks, copies = [], []
    for row in rows:
        target = target_for(desk, departments.get(row.department_id), row.priority)
        due: dict[str, datetime] = {}
        if target is not None:
            clock = TicketClock(row.created_at, row.updated_at, row.status)
            due = due_times(clock, turns.get(row.id, []), target, desk.calendar(target.calendar))
        clocks += [{"ticket_id": row.id, "target": name, "due_at": at} for name, at in due.items()]
        shown = {f"{name}_due": at.isoformat() + "Z" for name, at in due.items()}
        fields = row.custom_fields or {}
        if fields.get("sla", {}) != shown:
            copy = {key: value for key, value in fields.items() if key != "sla"}
            copies.append({"ticket": row.id, "seen": row.updated_at, "fields": _with(copy, shown)})
    connection = session.connection()
    connection.execute(delete(SlaClock).where(SlaClock.ticket_id.in_(ids)))
    if clocks:
        connection.execute(SlaClock.__table__.insert(), clocks)
    insert = upsert_insert(session)(SlaTicket)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["ticket_id"], set_={"seen_updated_at": insert.excluded.seen_updated_at}
        ),
        [{"ticket_id": row.id, "seen_updated_at": row.updated_at} for row in rows],
    )
    if copies:
        connection.execute(_copy, copies)
    return len(rows)


def _with(fields: dict[str, Any], shown: dict[str, str]) -> dict[str, Any] | None:
    if shown:
        fields["sla"] = shown
    return fields or None


class _Due(NamedTuple):
    ticket_id: int
    target: str
    due_at: datetime


def _remind(sessions: sessionmaker[Session], desk: SlaDesk, now: datetime) -> int:
    """Clocks with a stage due and not yet fired, oldest due first, in transactions of
    :data:`REMIND_BATCH` tickets."""
    sla = desk.sla
    warn = timedelta(minutes=sla.warn_minutes)
    department = timedelta(minutes=sla.department_after_minutes)
    due = or_(
        and_(SlaClock.due_at > now, SlaClock.due_at <= now + warn, _not_fired("warning")),
        and_(SlaClock.due_at <= now, _not_fired("breach")),
        and_(SlaClock.due_at <= now - department, _not_fired("department")),
    )
    with unit_of_work(sessions) as session:
        candidates = [
            _Due(*row)
            for row in session.execute(
                select(SlaClock.ticket_id, SlaClock.target, SlaClock.due_at)
                .where(SlaClock.due_at <= now + warn, due)
                .order_by(SlaClock.due_at, SlaClock.ticket_id)
                .limit(MAX_REMINDERS_PER_TICK)
            )
        ]
    fired = 0
    for start in range(0, len(candidates), REMIND_BATCH):
        with unit_of_work(sessions) as session:
            fired += _fire(session, desk, candidates[start : start + REMIND_BATCH], now)
    return fired


def _not_fired(stage: str) -> ColumnElement[bool]:
    fired = Reminder.__table__.alias(stage)
    return ~exists().where(
        fired.c.ticket_id == SlaClock.ticket_id,
        fired.c.kind == SlaClock.target + f":{stage}",
        fired.c.due_at == SlaClock.due_at,
    )


def _stages(sla: SlaSettings, due_at: datetime, now: datetime) -> list[str]:
    """The stages due now; a warning found after its due time has nothing left to warn of."""
    stages = []
    if sla.warn_minutes and due_at - timedelta(minutes=sla.warn_minutes) <= now < due_at:
        stages.append("warning")
    if due_at <= now:
        stages.append("breach")
    if due_at + timedelta(minutes=sla.department_after_minutes) <= now:
        stages.append("department")
    return stages


def _fire(session: Session, desk: SlaDesk, batch: Sequence[_Due], now: datetime) -> int:
    """Under the tickets' locks, the reminders of clocks that are still current (their
    ticket's clocks computed since it last changed) whose rows this transaction inserts. The
    department's stage comes last, after the breach it follows is written."""
    ids = sorted({due.ticket_id for due in batch})
    lock_batch(session, [f"ticket:{ticket_id}" for ticket_id in ids])
    current = set(
        session.execute(
            select(SlaClock.ticket_id, SlaClock.target, SlaClock.due_at)
            .join(SlaTicket, SlaTicket.ticket_id == SlaClock.ticket_id)
            .join(Ticket, Ticket.id == SlaClock.ticket_id)
            .where(SlaClock.ticket_id.in_(ids), SlaTicket.seen_updated_at == Ticket.updated_at)
        ).all()
    )
    wanted = [
        {"ticket_id": due.ticket_id, "kind": f"{due.target}:{stage}", "due_at": due.due_at}
        for due in batch
        if due in current
        for stage in _stages(desk.sla, due.due_at, now)
    ]
    if not wanted:
        return 0
    taken = session.execute(
        upsert_insert(session)(Reminder)
        .on_conflict_do_nothing()
        .returning(Reminder.ticket_id, Reminder.kind, Reminder.due_at),
        wanted,
    ).all()
    fired = sorted(
        (STAGES.index(stage), _Due(ticket_id, target, due_at))
        for ticket_id, kind, due_at in taken
        for target, stage in [kind.split(":")]
    )
    work = BatchWork(session, now)
    work.tickets.load(set(ids))
    tell = _Telling(work, desk, ids)
    for stage, due in fired:
        if STAGES[stage] == "department" and not tell.flushed:
            tell.flush()
        tell(due, STAGES[stage])
    work.flush()
    return len(fired)


class _Telling:
    """The effects of one batch's reminders, with what they read loaded once."""

    def __init__(self, work: BatchWork, desk: SlaDesk, ticket_ids: list[int]) -> None:
        self._work, self._desk, self._ticket_ids = work, desk, ticket_ids
        session = work.session
        self._departments = dict(session.execute(select(Department.id, Department.name)).all())
        chosen = select(AgentSettings.user_id, AgentSettings.calendar)
        self._calendars = dict(
            session.execute(chosen.where(AgentSettings.calendar.is_not(None))).all()
        )
        self._told_of_breach: dict[int, set[int]] = {}
        self.flushed = False

    def flush(self) -> None:
        """Write the breaches told so far, then read who had one (the assignees of then, who
        may have been escalated away since)."""
        session = self._work.flush()
        for ticket_id, user_id in session.execute(
            select(Notification.ticket_id, Notification.user_id).where(
                Notification.ticket_id.in_(self._ticket_ids),
                Notification.type == "sla_breached",
            )
        ):
            self._told_of_breach.setdefault(ticket_id, set()).add(user_id)
        self.flushed = True

    def __call__(self, due: _Due, stage: str) -> None:
        work, desk = self._work, self._desk
        ticket = work.tickets.get(due.ticket_id)
        if ticket is None:
            return
        department = self._departments.get(ticket.department_id)
        target = target_for(desk, department, ticket.priority)
        what = WORDS[due.target]
        when = f"{due.due_at:%Y-%m-%d %H:%M} UTC"
        if stage == "warning":
            note_text, kind = f"SLA: {what} due at {when}.", "sla_warning"
        else:
            note_text, kind = f"SLA: {what} overdue since {when}.", "sla_breached"
        agents = ticket_agents(work, ticket)
        if stage == "department":
            members = agent_roster(work).department_members(ticket.department_id)
            agents = set(members) - agents - self._told_of_breach.get(ticket.id, set())
            note_text = f"{note_text} Told the department."
            if not agents:
                return
        hold = self._hold(ticket, desk.calendar(target.calendar if target else None))
        teller = Teller(work, ticket, desk.notifications, desk.traits, hold)
        note = store_message(work, ticket, None, note_text, channel=None, internal=True)
        teller(note, kind, f"#{ticket.id} {ticket.title}: {note_text}", agents)
        if stage == "breach" and desk.sla.escalate_on_breach:
            done = escalate(
                work, ticket, "the SLA", f"{what} overdue", desk.routing, desk.assignment
            )
            if not isinstance(done, str):
                content = f"#{ticket.id} {ticket.title}: escalated, {what.lower()} overdue"
                teller(done.note, "escalated", content, done.tell)

    def _hold(self, ticket: Ticket, calendar: Calendar) -> Hold | None:
        """Until the recipient's calendar (else the ticket's) opens; an urgent ticket waits
        for nobody."""
        if ticket.priority == "urgent":
            return None
        now = self._work.now

        def hold(user_id: int) -> datetime | None:
            chosen = self._calendars.get(user_id)
            opens = (self._desk.calendar(chosen) if chosen else calendar).add(now, 0)
            return opens if opens > now else None

        return hold
