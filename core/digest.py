"""Each agent's digest: the tickets assigned to them that are not closed, overdue ones first,
when their cron says (``agent_settings.digest``, else ``[digests] cron``), read where they
work (``agent_settings.time_zone``, else ``[digests] time_zone``), on their notification
channel; nothing when they hold no ticket.

The job runs every minute and sends the digests whose cron fired since the previous run, so
a restart catches up on what fired while no daemon ran (up to :data:`MAX_LATE`; a digest that
late is superseded by the next); each is queued once, keyed by its agent and fire time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import Row, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.cron import cron_trigger, last_fire
from threadline.core.models import AgentSettings, SlaClock, Ticket, User, ticket_assignments
from threadline.core.notices import Notice, give_notice
from threadline.core.schedule_settings import DigestSettings
from threadline.core.settings import NotificationSettings
from threadline.core.titles import NO_SUBJECT

OFF = "off"
"""An agent's digest schedule that sends none."""
MAX_LATE = timedelta(hours=12)
FIRST_RUN = timedelta(minutes=1)
"""The window when no previous run is known: the minute the job runs every."""
GROUPS = (
    ("New", "open"),
    ("Waiting for you", "waiting_for_agent"),
    ("Waiting for the client", "waiting_for_user"),
    ("Unresolved", "unresolved"),
)
_log = structlog.get_logger(__name__)


def send_digests(
    sessions: sessionmaker[Session],
    settings: DigestSettings,
    notifications: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    last_tick: datetime | None,
    tick: datetime,
) -> int:
    """The digests whose cron fired in (``last_tick``, ``tick``], both naive UTC; answers how
    many deliveries were queued."""
    since = max(last_tick or tick - FIRST_RUN, tick - MAX_LATE)
    with sessions.begin() as session:
        fired = {}
        for user_id, zone, cron in _holders(session):
            at = _fired(user_id, cron or settings.cron, zone or settings.time_zone, since, tick)
            if at is not None:
                fired[user_id] = at
        work = BatchWork(session, tick)
        queued = 0
        for user_id, tickets in _tickets(session, fired, tick).items():
            notice = Notice("digest", _subject(tickets), _body(tickets), fired[user_id])
            queued += give_notice(work, notice, {user_id}, notifications, traits)
        work.flush()
    return queued


class _Line(NamedTuple):
    ticket_id: int
    title: str
    status: str
    priority: str
    overdue: bool

    def __str__(self) -> str:
        title = " ".join(self.title.split()) or NO_SUBJECT
        return f"#{self.ticket_id} {title} ({self.status}, {self.priority})"


def _holders(session: Session) -> Sequence[Row[int, str | None, str | None]]:
    """(user, time zone, cron) of the active users holding a ticket that is not closed."""
    return session.execute(
        select(User.id, AgentSettings.time_zone, AgentSettings.digest)
        .distinct()
        .join(ticket_assignments, ticket_assignments.c.user_id == User.id)
        .join(Ticket, Ticket.id == ticket_assignments.c.ticket_id)
        .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
        .where(Ticket.status != "closed", AgentSettings.active.is_not(False))
    ).all()


def _fired(user_id: int, cron: str, zone: str, since: datetime, tick: datetime) -> datetime | None:
    """The latest time in (``since``, ``tick``] their cron fired; a schedule stored by hand
    that cannot be read is logged and sends nothing, rather than stopping everyone's."""
    if cron == OFF:
        return None
    try:
        return last_fire(cron_trigger(cron, ZoneInfo(zone)), since, tick)
    except (ValueError, ZoneInfoNotFoundError) as error:
        _log.warning("digest_schedule_unreadable", user_id=user_id, error=str(error))
        return None


def _tickets(session: Session, user_ids: Collection[int], now: datetime) -> dict[int, list[_Line]]:
    overdue = (
        select(SlaClock.ticket_id)
        .where(SlaClock.ticket_id == Ticket.id, SlaClock.due_at < now)
        .exists()
    )
    held: dict[int, list[_Line]] = {}
    for user_id, *line in session.execute(
        select(
            ticket_assignments.c.user_id,
            Ticket.id,
            Ticket.title,
            Ticket.status,
            Ticket.priority,
            overdue,
        )
        .join(Ticket, Ticket.id == ticket_assignments.c.ticket_id)
        .where(ticket_assignments.c.user_id.in_(user_ids), Ticket.status != "closed")
        .order_by(Ticket.id)
    ):
        held.setdefault(user_id, []).append(_Line(*line))
    return held


def _subject(tickets: list[_Line]) -> str:
    overdue = sum(line.overdue for line in tickets)
    return f"{len(tickets)} assigned to you" + (f", {overdue} overdue" if overdue else "")


def _body(tickets: list[_Line]) -> str:
    """Overdue ones first, each ticket once."""
    groups = [("Overdue", [line for line in tickets if line.overdue])]
    groups += [
        (name, [line for line in tickets if line.status == status and not line.overdue])
        for name, status in GROUPS
    ]
    return "\n\n".join(
        f"{name}:\n" + "\n".join(f"  {line}" for line in lines) for name, lines in groups if lines
    )
