"""``threadline outbox list|show|retry`` on each database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline, columns
from tests.support.outbox import RecordingSender, conversation, enqueued, reply
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import OutboxItem
from threadline.core.models.base import now_utc
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

LATER = datetime(2099, 1, 1, 9, 0)
"""Far ahead, so a waiting row is not yet due whatever the real clock says."""
SENT_AT = datetime(2024, 6, 1, 12, 30)


@dataclass(frozen=True)
class Rows:
    waiting: int
    sent: int
    dead: int
    also_dead: int


@pytest.fixture
def rows(sessions: sessionmaker[Session]) -> Rows:
    ticket = conversation(sessions)
    waiting, sent, dead, also_dead = enqueued(
        sessions,
        reply("reply:1:ada@example.com", ticket, channel="email", recipient="ada@example.com"),
        reply("reply:2:ada@example.com", ticket, channel="email", recipient="ada@example.com"),
        reply("reply:3:+4915112345678", ticket, channel="whatsapp", recipient="+4915112345678"),
        reply("notify:4", channel="email", recipient="grace@example.com"),
    )
    changes = {
        waiting: {"attempts": 2, "next_attempt_at": LATER, "last_error": "421 try later"},
        sent: {
            "status": "sent",
            "delivery_status": "delivered",
            "provider_id": "<a@b>",
            "sent_at": SENT_AT,
        },
        dead: {"status": "parked", "attempts": 1, "last_error": "63016 outside the\x1b[31m window"},
        also_dead: {"status": "parked", "attempts": 8, "last_error": "timed out"},
    }
    with sessions.begin() as session:
        for row_id, values in changes.items():
            session.execute(update(OutboxItem).where(OutboxItem.id == row_id).values(**values))
    return Rows(waiting, sent, dead, also_dead)


def row(sessions: sessionmaker[Session], row_id: int) -> OutboxItem:
    with sessions() as session:
        found = session.get(OutboxItem, row_id)
    assert found is not None
    return found


def test_outbox_is_listed_newest_first_with_why_rows_are_stuck(threadline: Threadline, rows: Rows):
    listed = threadline("outbox", "list")

    assert listed.exit_code == 0, listed.output
    table = columns(listed.output)
    assert table[0] == [
        "ID",
        "STATUS",
        "DELIVERY",
        "CHANNEL",
        "KIND",
        "RECIPIENT",
        "TICKET",
        "TRIES",
        "NEXT TRY",
        "ERROR",
    ]
    assert [line[0] for line in table[1:]] == [
        str(rows.also_dead),
        str(rows.dead),
        str(rows.sent),
        str(rows.waiting),
    ]
    assert table[2][1:4] == ["parked", "queued", "whatsapp"]
    assert table[2][-1] == "63016 outside the\N{REPLACEMENT CHARACTER}[31m window"
    assert table[4][-3:] == ["2", "2099-01-01 09:00 UTC", "421 try later"]


def test_outbox_list_dead_shows_only_dead_rows(threadline: Threadline, rows: Rows):
    listed = threadline("outbox", "list", "--parked", "--format", "json")

    assert [item["id"] for item in json.loads(listed.output)] == [rows.also_dead, rows.dead]
    by_status = threadline("outbox", "list", "--status", "sent", "--format", "json")
    (sent,) = json.loads(by_status.output)
    assert list(sent) == [
        "id",
        "status",
        "delivery_status",
        "channel",
        "kind",
        "recipient",
        "ticket_id",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    ]
    contradiction = threadline("outbox", "list", "--parked", "--status", "sent")
    assert contradiction.exit_code == 2
    assert "contradict" in contradiction.output


def test_an_empty_outbox_says_so(threadline: Threadline):
    listed = threadline("outbox", "list")

    assert (listed.exit_code, listed.output) == (0, "no outbox rows match\n")


def test_outbox_show_gives_the_payload_and_the_last_error(threadline: Threadline, rows: Rows):
    shown = threadline("outbox", "show", str(rows.waiting))

    assert shown.exit_code == 0, shown.output
    assert f"#{rows.waiting} reply via email" in shown.output
    assert "Last error   421 try later" in shown.output
    assert '"body": "answer reply:1:ada@example.com"' in shown.output
    document = json.loads(threadline("outbox", "show", str(rows.sent), "--format", "json").output)
    assert document["provider_id"] == "<a@b>"
    assert document["payload"] == {"body": "answer reply:2:ada@example.com"}


def test_outbox_show_of_an_unknown_row_says_where_to_look(threadline: Threadline):
    shown = threadline("outbox", "show", "999")

    assert shown.exit_code == 1
    assert "no outbox row with id 999; `threadline outbox list` shows them" in shown.output


def test_retry_puts_a_dead_row_back_in_line_keeping_its_error_until_sent(
    threadline: Threadline, rows: Rows, sessions: sessionmaker[Session]
):
    before = now_utc()
    retried = threadline("outbox", "retry", str(rows.dead))

    assert (retried.exit_code, retried.output) == (0, f"outbox row {rows.dead} back in line\n")
    back = row(sessions, rows.dead)
    assert (back.status, back.attempts) == ("pending", 0)
    assert back.next_attempt_at is not None
    assert before <= back.next_attempt_at <= now_utc()
    assert back.last_error == "63016 outside the\x1b[31m window"

    senders = SenderRegistry()
    senders.register("whatsapp", RecordingSender())
    Dispatcher(sessions, senders, DispatchSettings()).run_batch()
    sent = row(sessions, rows.dead)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)


def test_retry_of_a_waiting_row_sends_it_now(
    threadline: Threadline, rows: Rows, sessions: sessionmaker[Session]
):
    assert threadline("outbox", "retry", str(rows.waiting)).exit_code == 0

    back = row(sessions, rows.waiting)
    assert back.attempts == 0
    assert back.next_attempt_at is not None
    assert back.next_attempt_at < LATER


def test_retry_all_dead(threadline: Threadline, rows: Rows, sessions: sessionmaker[Session]):
    retried = threadline("outbox", "retry", "--all-parked")

    assert (retried.exit_code, retried.output) == (0, "2 parked rows back in line\n")
    assert {row(sessions, r).status for r in (rows.dead, rows.also_dead)} == {"pending"}
    assert threadline("outbox", "retry", "--all-parked").output == "0 parked rows back in line\n"


def test_a_sent_row_is_never_retried(threadline: Threadline, rows: Rows):
    retried = threadline("outbox", "retry", str(rows.sent))

    assert retried.exit_code == 1
    assert "was sent at 2024-06-01 12:30 UTC" in retried.output
    assert "does not send a row twice" in retried.output


def test_a_row_being_sent_is_not_raced(
    threadline: Threadline, rows: Rows, sessions: sessionmaker[Session]
):
    with sessions.begin() as session:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == rows.waiting)
            .values(lease_owner="host:1:ab", lease_expires_at=now_utc() + timedelta(minutes=2))
        )

    retried = threadline("outbox", "retry", str(rows.waiting))

    assert retried.exit_code == 1
    assert "is being sent right now by host:1:ab" in retried.output
    assert row(sessions, rows.waiting).attempts == 2


@pytest.mark.parametrize("arguments", [[], ["1", "--all-parked"]])
def test_retry_needs_one_row_or_all_dead(threadline: Threadline, arguments: list[str]):
    retried = threadline("outbox", "retry", *arguments)

    assert retried.exit_code == 2
    assert "give either an outbox row ID or --all-parked" in retried.output
