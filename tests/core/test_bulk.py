"""Batch writes that bypass SQLAlchemy's per-row parameters must store exactly what the ORM
would: defaults, JSON, bytes, timestamps; and skip or report conflicts as asked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.bulk import SQLITE_MAX_VARIABLES, BulkInsert
from threadline.core.models import Blob, Client, ClientExternalId, OutboxItem

WHEN = datetime(2026, 3, 2, 9, 30, 15, 123456)


def test_rows_get_the_python_side_defaults_and_keep_json_and_times(
    sessions: sessionmaker[Session],
):
    insert = BulkInsert(
        OutboxItem.__table__, ("idempotency_key", "channel", "kind", "recipient", "payload")
    )
    with sessions.begin() as session:
        insert.execute(
            session.connection(),
            [
                (
                    "k1",
                    "email",
                    "reply",
                    "ada@example.com",
                    {"subject": "Grüße", "quote": 'say "hi"\n', "n": [1, None]},
                ),
                ("k2", "email", "reply", "bob@example.com", None),
            ],
        )
    with sessions() as session:
        first, second = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
    assert first.payload == {"subject": "Grüße", "quote": 'say "hi"\n', "n": [1, None]}
    assert second.payload is None
    assert (first.status, first.delivery_status, first.attempts) == ("pending", "queued", 0)
    assert isinstance(first.created_at, datetime)


def test_bytes_and_microseconds_survive(sessions: sessionmaker[Session]):
    content = bytes(range(256)) * 3
    insert = BulkInsert(Blob.__table__, ("sha256", "size", "content", "created_at"))
    with sessions.begin() as session:
        insert.execute(
            session.connection(),
            [("a" * 64, len(content), content, WHEN)],
        )
    with sessions() as session:
        blob = session.get(Blob, "a" * 64)
    assert blob is not None
    assert (blob.content, blob.created_at) == (content, WHEN)


def test_conflicts_are_skipped_and_only_stored_rows_are_returned(
    sessions: sessionmaker[Session],
):
    """More rows than SQLite binds in one statement, so its multi-row path is split too."""
    count = SQLITE_MAX_VARIABLES // 4 + 50
    with sessions.begin() as session:
        clients = [Client(name=f"client {n}") for n in range(count)]
        session.add_all(clients)
        session.flush()
        session.add(ClientExternalId(client_id=clients[0].id, type="email", value="c0@x"))
        session.flush()
        insert = BulkInsert(
            ClientExternalId.__table__,
            ("client_id", "type", "value"),
            skip_conflicts_on=("type", "value"),
            returning=("value", "client_id"),
        )
        stored = insert.execute(
            session.connection(),
            [(client.id, "email", f"c{n}@x") for n, client in enumerate(clients)],
        )
    assert sorted(stored) == sorted((f"c{n}@x", clients[n].id) for n in range(1, count))
    with sessions() as session:
        assert session.query(ClientExternalId).count() == count


def test_nothing_to_insert_sends_nothing(sessions: sessionmaker[Session]):
    insert = BulkInsert(Client.__table__, ("name",), returning=("id",))
    with sessions.begin() as session:
        assert insert.execute(session.connection(), []) == []
