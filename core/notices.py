"""Telling people of what concerns no single ticket (a digest, items stuck in the queues): a
``notifications`` row without a ticket for each, and a delivery on their channel where they
want that type delivered, as :func:`~threadline.core.notify.notify` does for a ticket's news.

Any active user may be told, administrators too: stuck items are theirs to look at. A notice
handled again writes nothing twice: a user who has its row (same kind, no ticket, same time)
is skipped, and its delivery is keyed by the same kind, user and time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.agent_roster import AgentRoster
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.models import AgentSettings, Notification, User
from threadline.core.notify import tell_each
from threadline.core.outbox import Outgoing
from threadline.core.rows import NotificationRow
from threadline.core.settings import NotificationSettings

_PEOPLE = (
    select(User.id, User.email, AgentSettings.notification_types)
    .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
    .where(AgentSettings.active.is_not(False))
    .order_by(User.id)
)


@dataclass(frozen=True)
class Notice:
    kind: str
    """A type of ``core/notification_types.py``."""
    subject: str
    """One line: the row's content, and what follows the headline in a mail's subject."""
    body: str
    at: datetime
    """What it is as of (naive UTC: a digest's fire time, the start of a day), so it names the
    cause: the rows' time, and in the delivery's idempotency key ``<kind>:<user>:<at>``."""


def give_notice(
    work: BatchWork,
    notice: Notice,
    user_ids: Collection[int],
    settings: NotificationSettings,
    traits: Mapping[str, ChannelTraits],
) -> int:
    """Answers how many deliveries were queued."""
    people = work.memo("notice_people", _people)
    told = _told(work.session, notice, user_ids)

    def delivery(user_id: int, channel: str, recipient: str) -> Outgoing:
        return Outgoing(
            channel=channel,
            kind="notification",
            recipient=recipient,
            payload={
                "type": notice.kind,
                "agent_id": user_id,
                "subject": notice.subject,
                "body": notice.body,
            },
            idempotency_key=f"{notice.kind}:{user_id}:{notice.at.isoformat()}",
        )

    def row(user_id: int) -> NotificationRow:
        return NotificationRow(user_id, None, notice.kind, notice.subject, notice.at)

    left = set(user_ids) - told
    return tell_each(work, people, left, notice.kind, settings, traits, row, delivery)


def _people(session: Session) -> AgentRoster:
    """Every active user, whatever their type, in the roster's shape, so its rule of which
    types a user gets delivered is the one rule."""
    people, choices = [], {}
    for user_id, email, types in session.connection().execute(_PEOPLE):
        people.append((user_id, email))
        if types:
            choices[user_id] = types
    return AgentRoster(people, frozenset(), {}, choices)


def _told(session: Session, notice: Notice, user_ids: Collection[int]) -> set[int]:
    return set(
        session.scalars(
            select(Notification.user_id).where(
                Notification.user_id.in_(user_ids),
                Notification.type == notice.kind,
                Notification.ticket_id.is_(None),
                Notification.created_at == notice.at,
            )
        )
    )
