"""What agents were told (``notifications``), and marking it read, for the operator's CLI and
the agents' own tools."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from threadline.core.admin.errors import NotFound
from threadline.core.admin.users import user_by_email
from threadline.core.models import Notification, User


@dataclass(frozen=True)
class NotificationSummary:
    id: int
    user: str
    ticket_id: int | None
    type: str
    content: str
    is_read: bool
    created_at: datetime


def list_notifications(
    session: Session, email: str | None = None, unread: bool = False, limit: int = 100
) -> list[NotificationSummary]:
    """Newest first."""
    query = select(Notification, User.email).join(User, User.id == Notification.user_id)
    if email is not None:
        query = query.where(Notification.user_id == user_by_email(session, email).id)
    if unread:
        query = query.where(Notification.is_read.is_(False))
    found = session.execute(query.order_by(Notification.id.desc()).limit(limit))
    return [
        NotificationSummary(
            row.id, address, row.ticket_id, row.type, row.content, row.is_read, row.created_at
        )
        for row, address in found
    ]


def read_notification(session: Session, notification_id: int) -> None:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"no notification {notification_id}; see `threadline notifications list`")
    row.is_read = True


def read_all(session: Session, email: str | None = None) -> int:
    """Every unread notification (of the user with ``email``) read; how many."""
    statement = update(Notification).where(Notification.is_read.is_(False))
    if email is not None:
        statement = statement.where(Notification.user_id == user_by_email(session, email).id)
    return session.execute(
        statement.values(is_read=True), execution_options={"synchronize_session": False}
    ).rowcount
