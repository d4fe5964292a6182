"""Transactions straight on the database drivers, tuned as threadline's engines are.

``core/db.py`` tunes its engines' connections with what is here; ``threadline ingest``, which an
MTA starts once per mail, writes through these without loading SQLAlchemy (150 ms of a start).
psycopg is imported only for a PostgreSQL URL, so a SQLite run does not pay for it either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from threadline.core.database_url import SQLITE

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRESQL_CONNECT_TIMEOUT_S = 10
SQLITE_BEGIN = "BEGIN IMMEDIATE"
"""Takes the write lock at BEGIN, so two writers wait on busy_timeout instead of deadlocking."""


def tune_sqlite(connection: sqlite3.Connection) -> None:
    """Every SQLite connection's settings. BEGIN is left to whoever opens a transaction
    (pysqlite's own transaction handling would defer it)."""
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sqlite_directory(database: str | None) -> None:
    """Creates the directory of a SQLite file if missing."""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Transaction:
    cursor: Any
    postgresql: bool
    """Else SQLite: the statements' placeholders and some values' forms differ."""

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows the statement returns, if any."""
        self.cursor.execute(sql, parameters)
        return self.cursor.fetchall() if self.cursor.description else []


@contextmanager
def transaction(url: str) -> Iterator[Transaction]:
    """One transaction on a connection of its own, for a URL as ``supported_url`` gives it:
    committed when the block ends, rolled back if it raises."""
    driver, _, rest = url.partition("://")
    if driver == SQLITE:
        with _sqlite(rest) as connection:
            yield Transaction(connection.cursor(), postgresql=False)
        return
    import psycopg

    with psycopg.connect(
        f"postgresql://{rest}", connect_timeout=POSTGRESQL_CONNECT_TIMEOUT_S
    ) as connection:
        yield Transaction(connection.cursor(), postgresql=True)


@contextmanager
def _sqlite(rest: str) -> Iterator[sqlite3.Connection]:
    """``rest``: what follows ``sqlite://``, read as SQLAlchemy reads it (``/relative.db``,
    ``//absolute.db``, nothing for a database in memory)."""
    location, _, options = rest.partition("?")
    if options:
        raise ValueError(
            "database.url: options after '?' in a SQLite URL are not supported here; remove them"
        )
    database = unquote(location.partition("/")[2]) or ":memory:"
    sqlite_directory(database)
    connection = sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        tune_sqlite(connection)
        connection.execute(SQLITE_BEGIN)
        yield connection
        connection.execute("COMMIT")
    finally:
        connection.close()  # without its COMMIT, the transaction is rolled back
