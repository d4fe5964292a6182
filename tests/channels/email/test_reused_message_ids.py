"""Different mails under one reused Message-ID are all stored; a re-delivery of one mail is
still stored once, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.email.sample_mail import mail, parsed
from tests.support.desk_pipeline import desk_pipeline
from threadline.channels.email.dedup import mail_dedup_key
from threadline.core.db import make_engine, session_factory
from threadline.core.migrate import upgrade
from threadline.core.models import InboundItem, Message, MessageRef

SCAN = "<1@scanner.local>"


def scan(number: int, minute: int) -> bytes:
    return mail(
        f"Scan {number} attached.",
        Subject=f"Scan {number}",
        Date=f"Mon, 2 Mar 2026 09:{minute:02d}:00 +0100",
        Message_ID=SCAN,
    )


def tickets_of(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions() as session:
        return list(session.execute(select(Message.ticket_id, Message.body).order_by(Message.id)))


def test_different_mails_under_one_message_id_are_all_stored_apart(
    sessions: sessionmaker[Session],
):
    desk = desk_pipeline(sessions)

    outcomes = [desk.deliver(parsed(scan(1, 0))), desk.deliver(parsed(scan(2, 5)))]
    outcomes += desk.deliver_batch([parsed(scan(3, 10)), parsed(scan(4, 15))])

    assert [outcome.status for outcome in outcomes] == ["done"] * 4
    assert tickets_of(sessions) == [(n, f"Scan {n} attached.") for n in (1, 2, 3, 4)]


def test_a_redelivered_mail_is_stored_once_in_one_batch_or_two(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions)
    relayed = b"Received: from relay.example\r\n" + scan(1, 0)
    other = mail("Another question.", Message_ID="<q2@example.com>")

    first = desk.deliver(parsed(scan(1, 0)))
    again = desk.deliver(parsed(relayed))
    both = desk.deliver_batch([parsed(other), parsed(b"Received: from relay\r\n" + other)])

    assert (first.status, again.status) == ("done", "ignored")
    assert again.message_id == first.message_id
    assert [outcome.status for outcome in both] == ["done", "ignored"]
    assert len(tickets_of(sessions)) == 2


def test_a_reply_to_a_reused_message_id_joins_the_first_mail_that_had_it(
    sessions: sessionmaker[Session],
):
    desk = desk_pipeline(sessions)
    desk.deliver(parsed(scan(1, 0)))
    desk.deliver(parsed(scan(2, 5)))

    reply = desk.deliver(parsed(mail("Thanks", Message_ID="<r1@example.com>", In_Reply_To=SCAN)))

    with sessions() as session:
        assert session.get(Message, reply.message_id).ticket_id == 1


def test_a_mail_stored_before_delivery_ids_still_counts_as_the_same_mail(
    sessions: sessionmaker[Session],
):
    """Its Message-ID's ref has no delivery id: whatever comes again under that id is taken for
    it, as before."""
    desk = desk_pipeline(sessions)
    old = parsed(scan(1, 0))
    desk.deliver(replace(old, hints=replace(old.hints, delivery_id=None)))

    again = desk.deliver(parsed(scan(2, 5)))

    assert again.status == "ignored"


def test_the_upgrade_keys_stored_mail_anew_and_keeps_each_key_on_its_messages_ref(
    empty_db_url: str,
):
    engine = make_engine(empty_db_url)
    upgrade(engine, "0007")
    raw = scan(1, 0)
    with engine.begin() as connection:
        _stored_under_the_old_key(connection, raw)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        item = session.scalars(select(InboundItem)).one()
        refs = session.execute(select(MessageRef.external_id, MessageRef.delivery_id)).all()
    engine.dispose()

    assert item.dedup_key == mail_dedup_key(raw)
    assert refs == [("1@scanner.local", mail_dedup_key(raw))]
    desk = desk_pipeline(session_factory(make_engine(empty_db_url)))
    assert desk.deliver(parsed(scan(2, 5))).status == "done"
    assert desk.deliver(parsed(raw)).status == "ignored"


def _stored_under_the_old_key(connection: Connection, raw: bytes) -> None:
    """Each table's first row, so every id is 1."""
    statements = [
        "INSERT INTO clients (name, created_at, updated_at) VALUES ('Ada', :t, :t)",
        "INSERT INTO client_external_ids (client_id, type, value, created_at) "
        "VALUES (1, 'email', 'ada@example.com', :t)",
        "INSERT INTO tickets (title, client_id, status, priority, created_at, updated_at) "
        "VALUES ('Scan 1', 1, 'open', 'medium', :t, :t)",
        "INSERT INTO messages (ticket_id, client_id, body, is_system_message, channel, "
        "is_internal, created_at) VALUES (1, 1, 'Scan 1 attached.', false, 'email', false, :t)",
        "INSERT INTO message_refs (channel, external_id, ticket_id, message_id, created_at) "
        "VALUES ('email', '1@scanner.local', 1, 1, :t)",
        "INSERT INTO inbound_items (channel, dedup_key, raw, status, attempts, message_id, "
        "created_at, updated_at) VALUES ('email', 'mid:1@scanner.local', :raw, 'done', 1, 1, "
        ":t, :t)",
    ]
    for statement in statements:
        connection.execute(text(statement), {"t": datetime(2026, 3, 2, 8, 0), "raw": raw})
