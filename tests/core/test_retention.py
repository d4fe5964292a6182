"""Retention on both databases, with an injected ``now``: what goes, what stays, in batches
bounded per transaction and per run, and a dry run that counts the same and removes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.inbound import list_inbound
from threadline.core.intake import Intake, RawItem
from threadline.core.models import (
    Attachment,
    Base,
    Blob,
    Client,
    DestinationPace,
    InboundItem,
    Message,
    MessageRef,
    MessageText,
    Notification,
    OutboxItem,
    Reminder,
    SlaClock,
    SlaTicket,
    Tag,
    Ticket,
    TicketTurn,
    User,
    ticket_assignments,
    ticket_tags,
)
from threadline.core.retention import BLOB_GRACE, PACE_GRACE, YEAR, RetentionReport, purge
from threadline.core.schedule_settings import RetentionSettings

NOW = datetime(2026, 6, 1, 12, 0)
SETTINGS = RetentionSettings(
    raw_inbound_days=30, read_notifications_days=90, closed_tickets_years=1, batch_size=100
)
RAW_AGE = timedelta(days=30)
READ_AGE = timedelta(days=90)
JUST = timedelta(minutes=1)
OLD_BLOB = NOW - BLOB_GRACE - JUST


@dataclass(frozen=True)
class Desk:
    client_id: int
    agent_id: int


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> Desk:
    with sessions.begin() as session:
        client = Client(name="Ada")
        agent = User(name="Grace", email="grace@desk.example", type="agent")
        session.add_all([client, agent])
        session.flush()
        return Desk(client.id, agent.id)


def add_item(
    sessions: sessionmaker[Session],
    key: str,
    status: str,
    updated_at: datetime,
    message_id: int | None = None,
) -> int:
    with sessions.begin() as session:
        item = InboundItem(
            channel="email",
            dedup_key=key,
            raw=f"From: ada@example.com\r\n\r\n{key}".encode(),
            status=status,
            message_id=message_id,
            created_at=updated_at - timedelta(seconds=5),
            updated_at=updated_at,
        )
        session.add(item)
        session.flush()
        return item.id


def add_notification(
    sessions: sessionmaker[Session],
    desk: Desk,
    *,
    read: bool,
    created_at: datetime,
    ticket_id: int | None = None,
) -> int:
    with sessions.begin() as session:
        notification = Notification(
            user_id=desk.agent_id,
            ticket_id=ticket_id,
            type="client_replied",
            content="Ada: Help",
            is_read=read,
            created_at=created_at,
        )
        session.add(notification)
        session.flush()
        return notification.id


def add_blob(sessions: sessionmaker[Session], content: bytes, created_at: datetime) -> str:
    digest = hashlib.sha256(content).hexdigest()
    with sessions.begin() as session:
        session.add(Blob(sha256=digest, size=len(content), content=content, created_at=created_at))
    return digest


def add_ticket(
    sessions: sessionmaker[Session],
    desk: Desk,
    name: str,
    *,
    status: str = "closed",
    closed_at: datetime | None = None,
    messages: int = 2,
    files: tuple[str, ...] = (),
) -> int:
    """A ticket with a row in every table that references tickets or messages; ``files``: the
    digests of stored blobs its first message carries."""
    at = (closed_at or NOW) - timedelta(days=3)
    with sessions.begin() as session:
        ticket = Ticket(
            title=name,
            client_id=desk.client_id,
            status=status,
            created_at=at,
            updated_at=closed_at or at,
            closed_at=closed_at,
        )
        tag = Tag(name=f"tag-{name}")
        session.add_all([ticket, tag])
        session.flush()
        stored = [
            Message(
                ticket_id=ticket.id,
                client_id=desk.client_id if number % 2 == 0 else None,
                user_id=desk.agent_id if number % 2 else None,
                body=f"{name} {number}",
                channel="email",
                created_at=at + timedelta(minutes=number),
            )
            for number in range(messages)
        ]
        session.add_all(stored)
        session.flush()
        first = stored[0].id
        session.add_all(
            [
                MessageText(message_id=first, full_text=f"{name} 0\n> quoted"),
                *(
                    Attachment(
                        message_id=first, filename="a.pdf", content_type="x", size=1, sha256=digest
                    )
                    for digest in files
                ),
                MessageRef(
                    channel="email",
                    external_id=f"{name}@mail",
                    ticket_id=ticket.id,
                    message_id=first,
                ),
                MessageRef(channel="email", external_id=f"{name}-quoted@mail", ticket_id=ticket.id),
                OutboxItem(
                    idempotency_key=f"reply:{name}",
                    channel="email",
                    kind="reply",
                    recipient="ada@example.com",
                    ticket_id=ticket.id,
                    message_id=stored[-1].id,
                    payload={},
                    status="sent",
                ),
                OutboxItem(
                    idempotency_key=f"digest:{name}",
                    channel="email",
                    kind="notification",
                    recipient="grace@desk.example",
                    ticket_id=ticket.id,
                    payload={},
                    status="sent",
                ),
                Notification(
                    user_id=desk.agent_id,
                    ticket_id=ticket.id,
                    type="ticket_created",
                    content=name,
                    created_at=at,
                ),
                TicketTurn(ticket_id=ticket.id, at=at, side="client"),
                Reminder(ticket_id=ticket.id, kind="auto_close_notice", due_at=at, created_at=at),
                SlaClock(ticket_id=ticket.id, target="resolution", due_at=at),
                SlaTicket(ticket_id=ticket.id, seen_updated_at=at),
                InboundItem(
                    channel="email",
                    dedup_key=f"{name}@mail",
                    raw=b"From: ada@example.com",
                    status="done",
                    message_id=first,
                    created_at=NOW,
                    updated_at=NOW,
                ),
            ]
        )
        session.execute(
            insert(ticket_assignments).values(ticket_id=ticket.id, user_id=desk.agent_id)
        )
        session.execute(insert(ticket_tags).values(ticket_id=ticket.id, tag_id=tag.id))
        return ticket.id


def traces(sessions: sessionmaker[Session], ticket_id: int) -> dict[str, int]:
    """How many rows of each table belong to the ticket or its messages."""
    with sessions() as session:
        messages = select(Message.id).where(Message.ticket_id == ticket_id)
        counted = {
            "tickets": select(Ticket.id).where(Ticket.id == ticket_id),
            "messages": messages,
            "message_texts": select(MessageText.message_id).where(
                MessageText.message_id.in_(messages)
            ),
            "attachments": select(Attachment.id).where(Attachment.message_id.in_(messages)),
            "message_refs": select(MessageRef.id).where(MessageRef.ticket_id == ticket_id),
            "outbox": select(OutboxItem.id).where(OutboxItem.ticket_id == ticket_id),
            "notifications": select(Notification.id).where(Notification.ticket_id == ticket_id),
            "ticket_turns": select(TicketTurn.id).where(TicketTurn.ticket_id == ticket_id),
            "reminders": select(Reminder.ticket_id).where(Reminder.ticket_id == ticket_id),
            "sla_clocks": select(SlaClock.ticket_id).where(SlaClock.ticket_id == ticket_id),
            "sla_tickets": select(SlaTicket.ticket_id).where(SlaTicket.ticket_id == ticket_id),
            "ticket_assignments": select(ticket_assignments.c.user_id).where(
                ticket_assignments.c.ticket_id == ticket_id
            ),
            "ticket_tags": select(ticket_tags.c.tag_id).where(ticket_tags.c.ticket_id == ticket_id),
        }
        return {
            table: session.scalar(select(func.count()).select_from(query.subquery())) or 0
            for table, query in counted.items()
        }


def count(sessions: sessionmaker[Session], model: type[Base]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def raw_of(sessions: sessionmaker[Session], item_id: int) -> bytes:
    with sessions() as session:
        item = session.get(InboundItem, item_id)
        assert item is not None
        return item.raw


def blobs(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Blob.sha256)))


def counts(report: RetentionReport) -> tuple[object, ...]:
    tickets = report.closed_tickets
    return (
        report.raw_inbound.count,
        report.read_notifications.count,
        None if tickets is None else (tickets.count, tickets.messages),
        report.blobs.count,
        report.send_paces.count,
    )


def test_processed_items_past_the_age_lose_their_raw_bytes_and_keep_their_rows(
    sessions: sessionmaker[Session],
):
    old = NOW - RAW_AGE - JUST
    done = add_item(sessions, "done@mail", "done", old)
    ignored = add_item(sessions, "ignored@mail", "ignored", old)
    recent = add_item(sessions, "recent@mail", "done", NOW - RAW_AGE + JUST)
    pending = add_item(sessions, "pending@mail", "pending", old)
    parked = add_item(sessions, "parked@mail", "parked", old)

    report = purge(sessions, SETTINGS, NOW)

    assert report.raw_inbound.count == 2
    assert raw_of(sessions, done) == raw_of(sessions, ignored) == b""
    with sessions() as session:
        assert session.get(InboundItem, done).updated_at == old
    for kept in (recent, pending, parked):
        assert raw_of(sessions, kept).startswith(b"From: ada@example.com")
    with sessions() as session:
        listed = {item.id: item for item in list_inbound(session)}
    assert (listed[done].status, listed[done].size) == ("done", 0)
    assert listed[recent].size > 0
    again = Intake(sessions).accept(RawItem("email", "done@mail", b"From: ada@example.com"))
    assert (again.id, again.duplicate) == (done, True)
    assert purge(sessions, SETTINGS, NOW).raw_inbound.count == 0


def test_read_notifications_past_the_age_are_deleted_and_unread_ones_stay(
    sessions: sessionmaker[Session], desk: Desk
):
    old = NOW - READ_AGE - JUST
    gone = add_notification(sessions, desk, read=True, created_at=old)
    unread = add_notification(sessions, desk, read=False, created_at=old)
    recent = add_notification(sessions, desk, read=True, created_at=NOW - READ_AGE + JUST)

    report = purge(sessions, SETTINGS, NOW)

    assert report.read_notifications.count == 1
    with sessions() as session:
        assert set(session.scalars(select(Notification.id))) == {unread, recent}
        assert session.get(Notification, gone) is None


def test_a_closed_ticket_past_the_age_goes_with_everything_that_references_it(
    sessions: sessionmaker[Session], desk: Desk
):
    own = add_blob(sessions, b"only the old ticket's", OLD_BLOB)
    shared = add_blob(sessions, b"also on a kept ticket", OLD_BLOB)
    cutoff = NOW - YEAR
    old = add_ticket(
        sessions, desk, "old", closed_at=cutoff - JUST, messages=3, files=(own, shared)
    )
    recent = add_ticket(sessions, desk, "recent", closed_at=cutoff + JUST, files=(shared,))
    still_open = add_ticket(sessions, desk, "open", status="waiting_for_agent")
    with sessions.begin() as session:
        session.execute(
            Ticket.__table__.update()
            .where(Ticket.id == still_open)
            .values(created_at=cutoff - YEAR, updated_at=cutoff - YEAR)
        )
    kept = {ticket_id: traces(sessions, ticket_id) for ticket_id in (recent, still_open)}

    report = purge(sessions, SETTINGS, NOW)

    assert report.closed_tickets is not None
    assert (report.closed_tickets.count, report.closed_tickets.messages) == (1, 3)
    assert set(traces(sessions, old).values()) == {0}
    assert {ticket_id: traces(sessions, ticket_id) for ticket_id in kept} == kept
    assert blobs(sessions) == {shared}
    assert report.blobs.count == 1
    with sessions() as session:
        item = session.scalars(select(InboundItem).where(InboundItem.dedup_key == "old@mail")).one()
    assert (item.message_id, item.raw, item.status) == (None, b"", "done")


def test_closed_tickets_are_kept_for_ever_by_default(sessions: sessionmaker[Session], desk: Desk):
    ancient = add_ticket(sessions, desk, "ancient", closed_at=datetime(2001, 1, 1))

    report = purge(sessions, RetentionSettings(), NOW)

    assert report.closed_tickets is None
    assert "closed tickets: kept (retention.closed_tickets_years is 0)" in report.lines()
    assert traces(sessions, ancient)["messages"] == 2


def test_only_contents_no_attachment_references_are_deleted_and_only_once_settled(
    sessions: sessionmaker[Session], desk: Desk
):
    orphan = add_blob(sessions, b"nobody's", OLD_BLOB)
    young = add_blob(sessions, b"just stored", NOW - BLOB_GRACE + JUST)
    held = add_blob(sessions, b"on an open ticket", OLD_BLOB)
    add_ticket(sessions, desk, "open", status="open", files=(held,))

    report = purge(sessions, SETTINGS, NOW)

    assert report.blobs.count == 1
    assert blobs(sessions) == {young, held}
    assert orphan not in blobs(sessions)


def test_each_transaction_removes_at_most_batch_size_rows_and_a_run_a_few_batches(
    sessions: sessionmaker[Session], desk: Desk
):
    settings = SETTINGS.model_copy(update={"batch_size": 2})
    for _ in range(5):
        add_notification(sessions, desk, read=True, created_at=NOW - READ_AGE - JUST)

    runs = [purge(sessions, settings, NOW, batches=1).read_notifications for _ in range(4)]

    assert [(run.count, run.more) for run in runs] == [(2, True), (2, True), (1, False), (0, False)]
    assert count(sessions, Notification) == 0


def test_a_run_stops_after_its_batches_and_the_next_run_goes_on(
    sessions: sessionmaker[Session],
):
    settings = SETTINGS.model_copy(update={"batch_size": 2})
    for number in range(7):
        add_item(sessions, f"{number}@mail", "done", NOW - RAW_AGE - JUST)

    first = purge(sessions, settings, NOW, batches=3)
    second = purge(sessions, settings, NOW, batches=3)

    assert (first.raw_inbound.count, first.raw_inbound.more) == (6, True)
    assert (second.raw_inbound.count, second.raw_inbound.more) == (1, False)
    assert "raw bytes of processed inbound items: 6 emptied; more next run" in first.lines()


def add_pace(sessions: sessionmaker[Session], destination: str, next_at: datetime) -> None:
    with sessions.begin() as session:
        session.add(DestinationPace(destination=destination, next_at=unix(next_at)))


def unix(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def test_spent_turns_of_paced_destinations_go_and_turns_to_come_stay(
    sessions: sessionmaker[Session],
):
    add_pace(sessions, "slack:C0OLD", NOW - timedelta(days=200))
    add_pace(sessions, "slack:C0SPENT", NOW - PACE_GRACE - JUST)
    add_pace(sessions, "whatsapp:+15550001", NOW - PACE_GRACE + JUST)
    add_pace(sessions, "slack:C0NEXT", NOW + timedelta(seconds=1))

    report = purge(sessions, SETTINGS, NOW)

    assert report.send_paces.count == 2
    with sessions() as session:
        kept = set(session.scalars(select(DestinationPace.destination)))
    assert kept == {"whatsapp:+15550001", "slack:C0NEXT"}
    assert "spent turns of paced destinations: 2 deleted" in report.lines()


def test_a_long_ticket_goes_over_several_transactions(sessions: sessionmaker[Session], desk: Desk):
    settings = SETTINGS.model_copy(update={"batch_size": 2})
    old = add_ticket(sessions, desk, "long", closed_at=NOW - YEAR - JUST, messages=3)

    first = purge(sessions, settings, NOW, batches=1).closed_tickets
    left = traces(sessions, old)
    second = purge(sessions, settings, NOW, batches=1).closed_tickets

    assert first is not None
    assert second is not None
    assert (first.count, first.messages, first.more) == (0, 2, True)
    assert (left["tickets"], left["messages"]) == (1, 1)
    assert (second.count, second.messages, second.more) == (1, 1, False)
    assert set(traces(sessions, old).values()) == {0}


@pytest.mark.parametrize("batches", [None, 1])
def test_a_dry_run_removes_nothing_and_counts_what_a_run_removes(
    sessions: sessionmaker[Session], desk: Desk, batches: int | None
):
    settings = SETTINGS.model_copy(update={"batch_size": 3})
    for number in range(4):
        add_item(sessions, f"{number}@mail", "done", NOW - RAW_AGE - JUST)
        add_notification(sessions, desk, read=True, created_at=NOW - READ_AGE - JUST)
    add_blob(sessions, b"nobody's", OLD_BLOB)
    own = add_blob(sessions, b"only the old ticket's", OLD_BLOB)
    add_ticket(sessions, desk, "old", closed_at=NOW - YEAR - JUST, files=(own,))
    for number in range(4):
        add_pace(sessions, f"slack:C{number}", NOW - PACE_GRACE - JUST)
    tables = [
        InboundItem,
        Notification,
        Ticket,
        Message,
        Blob,
        OutboxItem,
        MessageRef,
        DestinationPace,
    ]
    before = {model: count(sessions, model) for model in tables}

    dry = purge(sessions, settings, NOW, dry_run=True, batches=batches)

    assert {model: count(sessions, model) for model in tables} == before
    with sessions() as session:
        assert session.scalar(select(func.count()).where(func.length(InboundItem.raw) == 0)) == 0
    done = purge(sessions, settings, NOW, batches=batches)
    expected = (4, 4, (1, 2), 2, 4) if batches is None else (3, 3, (1, 2), 2, 3)
    assert counts(dry) == counts(done) == expected
    assert dry.lines()[0].startswith("raw bytes of processed inbound items: ")
    assert "would be emptied" in dry.lines()[0]
    assert "would be" not in " ".join(done.lines())


def test_every_reference_to_tickets_and_messages_is_removed_or_cascades():
    """A table added later with a plain foreign key to either must be handled here too.
    (``inbound_items.message_id`` names its message without a key, and is cleared too.)"""
    handled = {
        ("message_refs", "message_id"),
        ("message_refs", "ticket_id"),
        ("messages", "ticket_id"),
        ("notifications", "ticket_id"),
        ("outbox", "message_id"),
        ("outbox", "ticket_id"),
    }
    plain = {
        (table.name, key.parent.name)
        for table in Base.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table.name in ("tickets", "messages") and key.ondelete != "CASCADE"
    }
    assert plain == handled
