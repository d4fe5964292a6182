"""Engines and units of work for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.dbapi import (
    POSTGRESQL_CONNECT_TIMEOUT_S,
    SQLITE_BEGIN,
    SQLITE_BUSY_TIMEOUT_MS,
    sqlite_directory,
    tune_sqlite,
)


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine tuned for the daemon; creates the directory of a SQLite file if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        sqlite_directory(parsed.database)
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=pool_size
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(
        parsed,
        pool_size=pool_size,
        pool_pre_ping=True,
        # A host that silently drops packets must not hold startup or /healthz for minutes.
        connect_args={"connect_timeout": POSTGRESQL_CONNECT_TIMEOUT_S},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    tune_sqlite(dbapi_connection)


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql(SQLITE_BEGIN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with sessions.begin() as session:
        yield session


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


DIALECT_INSERTS: dict[str, Callable[..., Any]] = {
    "sqlite": sqlite_insert,
    "postgresql": postgresql_insert,
}
"""Each database's INSERT, which has ``on_conflict_do_nothing`` on both; hot paths build their
statements from it once per dialect."""


def among(
    session: Session, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY`` of one array: the driver then adapts one
    parameter instead of one per value, and the statement's text is the same whatever their
    count, so it is prepared once. For the hot paths' lists of a batch's ids."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def upsert_insert(session: Session) -> Callable[..., Any]:
    """The INSERT of the session's database."""
    return DIALECT_INSERTS[session.get_bind().dialect.name]
