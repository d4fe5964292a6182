"""``threadline retention [--dry-run]`` on each database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline
from threadline.core.models import Client, InboundItem, Notification, Ticket, User
from threadline.core.models.base import now_utc


def old_rows(sessions: sessionmaker[Session]) -> None:
    """Three processed items and a read notification past their age, an unread one, and a
    ticket closed ten years ago."""
    long_ago = now_utc() - timedelta(days=3650)
    with sessions.begin() as session:
        agent = User(name="Grace", email="grace@desk.example", type="agent")
        client = Client(name="Ada")
        session.add_all([agent, client])
        session.flush()
        session.add_all(
            [
                *(
                    InboundItem(
                        channel="email",
                        dedup_key=f"{number}@mail",
                        raw=b"From: ada@example.com",
                        status="done",
                        updated_at=long_ago,
                    )
                    for number in range(3)
                ),
                *(
                    Notification(
                        user_id=agent.id,
                        type="ticket_created",
                        content="x",
                        is_read=read,
                        created_at=long_ago,
                    )
                    for read in (True, False)
                ),
                Ticket(title="Old", client_id=client.id, status="closed", closed_at=long_ago),
            ]
        )


def emptied(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(func.length(InboundItem.raw) == 0)) or 0


def test_a_dry_run_says_what_would_go_and_removes_nothing(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    old_rows(sessions)

    result = threadline("retention", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "raw bytes of processed inbound items: 3 would be emptied",
        "read notifications: 1 would be deleted",
        "closed tickets: kept (retention.closed_tickets_years is 0)",
        "unreferenced attachment contents: 0 would be deleted",
        "spent turns of paced destinations: 0 would be deleted",
    ]
    assert emptied(sessions) == 0


def test_a_run_removes_everything_due_whatever_the_batch_size(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    old_rows(sessions)

    result = threadline(
        "retention",
        THREADLINE_RETENTION__BATCH_SIZE="1",
        THREADLINE_RETENTION__CLOSED_TICKETS_YEARS="5",
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "raw bytes of processed inbound items: 3 emptied",
        "read notifications: 1 deleted",
        "closed tickets: 1 deleted, with 0 messages",
        "unreferenced attachment contents: 0 deleted",
        "spent turns of paced destinations: 0 deleted",
    ]
    assert emptied(sessions) == 3
    with sessions() as session:
        assert session.scalars(select(Notification.is_read)).all() == [False]
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
