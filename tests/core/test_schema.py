"""The migrated schema is the support schema, column for column, and equals the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import make_engine
from threadline.core.migrate import current_revision, head_revision, upgrade
from threadline.core.models import Base, Client, Message, Ticket

# Written by hand from the published support schema, independently of the models: a model that
# drifts from it fails here even if its migration agrees with it.
SCHEMA_MD_COLUMNS = {
    "users": ["id", "name", "email", "password_hash", "type", "created_at", "updated_at"],
    "user_oauth_accounts": ["id", "user_id", "provider", "provider_user_id", "created_at"],
    "clients": ["id", "name", "data", "created_at", "updated_at"],
    "client_external_ids": ["id", "client_id", "type", "value", "created_at"],
    "departments": ["id", "name", "description", "created_at"],
    "tickets": [
        "id",
        "title",
        "client_id",
        "department_id",
        "status",
        "priority",
        "custom_fields",
        "created_at",
        "updated_at",
        "closed_at",
    ],
    "messages": [
        "id",
        "ticket_id",
        "user_id",
        "client_id",
        "body",
        "is_system_message",
        "created_at",
    ],
    "tags": ["id", "name"],
    "ticket_assignments": ["ticket_id", "user_id"],
    "ticket_tags": ["ticket_id", "tag_id"],
    "user_departments": ["user_id", "department_id"],
}
# The only columns threadline adds to the support tables (docs/architecture.md, Data).
DESIGN_ADDED_COLUMNS = {"messages": ["channel", "is_internal"]}
SCHEMA_MD_UNIQUES = {
    "users": [("email",)],
    "user_oauth_accounts": [("provider", "provider_user_id")],
    "client_external_ids": [("type", "value")],
    "departments": [("name",)],
    "tags": [("name",)],
}
SCHEMA_MD_PRIMARY_KEYS = {
    "ticket_assignments": ["ticket_id", "user_id"],
    "ticket_tags": ["ticket_id", "tag_id"],
    "user_departments": ["user_id", "department_id"],
}


def test_upgrade_creates_every_schema_md_table_with_exactly_its_columns(empty_db_url: str):
    engine = make_engine(empty_db_url)
    upgrade(engine)
    inspector = inspect(engine)
    for table, columns in SCHEMA_MD_COLUMNS.items():
        expected = columns + DESIGN_ADDED_COLUMNS.get(table, [])
        assert [c["name"] for c in inspector.get_columns(table)] == expected, table
        pk = SCHEMA_MD_PRIMARY_KEYS.get(table, ["id"])
        assert inspector.get_pk_constraint(table)["constrained_columns"] == pk, table
    for table, uniques in SCHEMA_MD_UNIQUES.items():
        found = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        assert set(uniques) <= found, table
    engine.dispose()


def test_migrated_schema_equals_the_models(empty_db_url: str):
    engine = make_engine(empty_db_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_current_revision_is_head_after_upgrade_and_upgrade_is_idempotent(empty_db_url: str):
    engine = make_engine(empty_db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


def test_message_without_author_is_refused_by_the_check(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        client = Client(name="Ada")
        session.add(client)
        session.flush()
        ticket = Ticket(title="Printer", client_id=client.id)
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
    with sessions() as session:
        session.add(Message(ticket_id=ticket_id, body="nobody wrote this"))
        with pytest.raises(IntegrityError):
            session.flush()
    with sessions.begin() as session:
        session.add(Message(ticket_id=ticket_id, body="auto", is_system_message=True))


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]):
    with sessions() as session:
        session.add(Ticket(title="orphan", client_id=999))
        with pytest.raises(IntegrityError):
            session.flush()
