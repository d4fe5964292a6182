"""Reminding people of what is stuck: inbound items and outbox rows parked for over an hour
wait for an operator (``threadline inbound retry``, ``threadline outbox retry``), and nobody
looks at a queue unprompted. Once a day, the administrators (every active agent when the desk
has no active administrator) get one notice with the counts, the oldest few and the commands
to look; nothing when nothing is stuck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.leased_queue import PARKED
from threadline.core.models import AgentSettings, InboundItem, OutboxItem, User
from threadline.core.notices import Notice, give_notice
from threadline.core.settings import NotificationSettings

STUCK_AFTER = timedelta(hours=1)
"""Parked for less is left to whoever is looking at it already."""
OLDEST = 5
ERROR_CHARS = 200


@dataclass(frozen=True)
class _Stuck:
    count: int
    oldest: list[str]
    """One line each, oldest first."""


def remind_stuck_items(
    sessions: sessionmaker[Session],
    notifications: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
    tick: datetime,
) -> int:
    """Answers how many deliveries were queued: one notice a day per person, as of the start
    of the day of ``tick`` (naive UTC)."""
    before = tick - STUCK_AFTER
    with sessions.begin() as session:
        inbound = _stuck_inbound(session, before)
        outbox = _stuck_outbox(session, before)
        if not inbound.count and not outbox.count:
            return 0
        day = datetime.combine(tick.date(), time())
        notice = Notice(
            "stuck_items", _subject(inbound.count, outbox.count), _body(inbound, outbox), day
        )
        work = BatchWork(session, tick)
        queued = give_notice(work, notice, _whom(session), notifications, traits)
        work.flush()
    return queued


def _stuck_inbound(session: Session, before: datetime) -> _Stuck:
    parked = (InboundItem.status == PARKED, InboundItem.updated_at <= before)
    oldest = session.execute(
        select(InboundItem.id, InboundItem.channel, InboundItem.updated_at, InboundItem.last_error)
        .where(*parked)
        .order_by(InboundItem.updated_at, InboundItem.id)
        .limit(OLDEST)
    )
    return _Stuck(
        session.scalar(select(func.count()).where(*parked)) or 0,
        [_line(f"item {id_} ({channel})", at, error) for id_, channel, at, error in oldest],
    )


def _stuck_outbox(session: Session, before: datetime) -> _Stuck:
    parked = (OutboxItem.status == PARKED, OutboxItem.updated_at <= before)
    oldest = session.execute(
        select(
            OutboxItem.id,
            OutboxItem.kind,
            OutboxItem.recipient,
            OutboxItem.channel,
            OutboxItem.updated_at,
            OutboxItem.last_error,
        )
        .where(*parked)
        .order_by(OutboxItem.updated_at, OutboxItem.id)
        .limit(OLDEST)
    )
    return _Stuck(
        session.scalar(select(func.count()).where(*parked)) or 0,
        [
            _line(f"row {id_} ({kind} to {recipient} by {channel})", at, error)
            for id_, kind, recipient, channel, at, error in oldest
        ],
    )


def _line(what: str, parked: datetime, error: str | None) -> str:
    return f"{what}, parked {parked:%Y-%m-%d %H:%M} UTC: {_first_line(error)}"


def _whom(session: Session) -> list[int]:
    """The active administrators, else the active agents."""
    active = (
        select(User.id, User.type)
        .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
        .where(AgentSettings.active.is_not(False))
    )
    people = session.execute(active).all()
    administrators = [user_id for user_id, kind in people if kind == "administrator"]
    return administrators or [user_id for user_id, _kind in people]


def _first_line(error: str | None) -> str:
    line = next(iter((error or "").strip().splitlines()), "") or "no error recorded"
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."


def _subject(inbound: int, outbox: int) -> str:
    parts = [
        f"{count} {noun}{'' if count == 1 else 's'}"
        for count, noun in ((inbound, "inbound item"), (outbox, "outbox row"))
        if count
    ]
    return " and ".join(parts) + " parked for over an hour"


def _body(inbound: _Stuck, outbox: _Stuck) -> str:
    sections = [
        _section(stuck, queue)
        for stuck, queue in ((inbound, "inbound"), (outbox, "outbox"))
        if stuck.count
    ]
    return "\n\n".join(sections)


def _section(stuck: _Stuck, queue: str) -> str:
    shown = "" if stuck.count <= OLDEST else f", the oldest {OLDEST}"
    lines = "\n".join(f"  {line}" for line in stuck.oldest)
    return (
        f"Parked in the {queue} queue: {stuck.count}{shown}:\n{lines}\n"
        f"Look and retry with:\n"
        f"  threadline {queue} list --parked\n"
        f"  threadline {queue} show ID\n"
        f"  threadline {queue} retry ID    (or --all-parked)"
    )
