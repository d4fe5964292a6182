"""Reminders of what is stuck: parked inbound items and outbox rows older than an hour tell the
administrators (else every active agent) once a day, with counts, the oldest, their errors and
the commands to look; nothing when nothing is stuck; on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.users import add_user
from threadline.core.models import AgentSettings, InboundItem, Notification, OutboxItem
from threadline.core.settings import NotificationSettings
from threadline.core.stuck import remind_stuck_items
from threadline.daemon import channels

TICK = datetime(2026, 3, 2, 9, 0)
ROOT = "root@desk.example"


@pytest.fixture
def root(sessions: sessionmaker[Session]) -> int:
    """An administrator, and an agent who is not told while there is one."""
    with sessions.begin() as session:
        add_user(session, "Grace Hopper", "grace@desk.example")
        return add_user(session, "Root", ROOT, "administrator").id


def park_inbound(sessions: sessionmaker[Session], key: str, error: str, parked: datetime) -> int:
    with sessions.begin() as session:
        item = InboundItem(
            channel="email",
            dedup_key=key,
            raw=b"Subject: ?\r\n\r\n?",
            status="parked",
            attempts=5,
            last_error=error,
            updated_at=parked,
        )
        session.add(item)
        session.flush()
        return item.id


def park_outbox(sessions: sessionmaker[Session], error: str, parked: datetime) -> int:
    with sessions.begin() as session:
        row = OutboxItem(
            idempotency_key=f"reply:{error}",
            channel="email",
            kind="reply",
            recipient="ada@example.com",
            payload={"body": "Hello"},
            status="parked",
            last_error=error,
            updated_at=parked,
        )
        session.add(row)
        session.flush()
        return row.id


def remind(sessions: sessionmaker[Session], tick: datetime = TICK) -> int:
    return remind_stuck_items(sessions, NotificationSettings(), channels.traits(), tick)


def told(sessions: sessionmaker[Session]) -> list[OutboxItem]:
    with sessions() as session:
        found = session.scalars(select(OutboxItem).where(OutboxItem.kind == "notification"))
        return list(found)


def test_the_administrators_hear_of_what_is_parked_with_the_oldest_and_the_commands(
    sessions: sessionmaker[Session], root: int
):
    oldest = park_inbound(sessions, "a", "Park: not a mail\nTrace", TICK - timedelta(days=2))
    newer = park_inbound(sessions, "b", "KeyError('from')", TICK - timedelta(hours=2))
    park_inbound(sessions, "c", "just parked", TICK - timedelta(minutes=10))
    dead = park_outbox(sessions, "550 5.1.1 no such user", TICK - timedelta(hours=3))

    assert remind(sessions) == 1

    (row,) = told(sessions)
    assert (row.recipient, row.ticket_id) == (ROOT, None)
    assert row.idempotency_key == f"stuck_items:{root}:2026-03-02T00:00:00"
    assert row.payload["subject"] == "2 inbound items and 1 outbox row parked for over an hour"
    assert row.payload["body"] == (
        "Parked in the inbound queue: 2:\n"
        f"  item {oldest} (email), parked 2026-02-28 09:00 UTC: Park: not a mail\n"
        f"  item {newer} (email), parked 2026-03-02 07:00 UTC: KeyError('from')\n"
        "Look and retry with:\n"
        "  threadline inbound list --parked\n"
        "  threadline inbound show ID\n"
        "  threadline inbound retry ID    (or --all-parked)\n"
        "\n"
        "Parked in the outbox queue: 1:\n"
        f"  row {dead} (reply to ada@example.com by email), parked 2026-03-02 06:00 UTC: "
        "550 5.1.1 no such user\n"
        "Look and retry with:\n"
        "  threadline outbox list --parked\n"
        "  threadline outbox show ID\n"
        "  threadline outbox retry ID    (or --all-parked)"
    )
    with sessions() as session:
        (listed,) = session.execute(select(Notification.user_id, Notification.ticket_id))
    assert tuple(listed) == (root, None)


def test_once_a_day_however_often_it_runs(sessions: sessionmaker[Session], root: int):
    park_outbox(sessions, "550 5.1.1 no such user", TICK - timedelta(hours=3))

    assert remind(sessions) == 1
    assert remind(sessions) == 0
    assert remind(sessions, TICK + timedelta(hours=6)) == 0
    assert remind(sessions, TICK + timedelta(days=1)) == 1


def test_nothing_is_sent_when_nothing_is_stuck_for_an_hour(
    sessions: sessionmaker[Session], root: int
):
    park_inbound(sessions, "c", "just parked", TICK - timedelta(minutes=10))

    assert remind(sessions) == 0
    assert told(sessions) == []


def test_only_the_oldest_few_are_listed(sessions: sessionmaker[Session], root: int):
    for number in range(7):
        park_inbound(sessions, f"k{number}", f"error {number}", TICK - timedelta(days=7 - number))

    remind(sessions)

    (row,) = told(sessions)
    body = row.payload["body"]
    assert body.startswith("Parked in the inbound queue: 7, the oldest 5:\n")
    assert "error 4" in body
    assert "error 5" not in body


def test_without_an_active_administrator_every_active_agent_hears(
    sessions: sessionmaker[Session], root: int
):
    with sessions.begin() as session:
        session.add(AgentSettings(user_id=root, active=False))
        add_user(session, "Alan Turing", "alan@desk.example")
    park_outbox(sessions, "550 5.1.1 no such user", TICK - timedelta(hours=3))

    assert remind(sessions) == 2

    assert sorted(row.recipient for row in told(sessions)) == [
        "alan@desk.example",
        "grace@desk.example",
    ]
