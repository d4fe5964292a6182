"""PostgreSQL session-level advisory locks: work that only one of several daemons sharing a
database may do at a time (polling one IMAP mailbox, later the cluster-wide jobs)."""

from __future__ import annotations

import contextlib

from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from threadline.core.advisory_keys import lock_key
from threadline.core.dbapi import POSTGRESQL_CONNECT_TIMEOUT_S


class AdvisoryLock:
    """Held on a connection of its own, outside the pool: PostgreSQL releases the lock when that
    connection ends, so a daemon that dies, or loses the database, hands the work over by
    itself, and a long-held lock never takes a connection the pool needs."""

    def __init__(self, url: URL, name: str) -> None:
        self.name = name
        self._key = lock_key(name)
        self._engine = create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": POSTGRESQL_CONNECT_TIMEOUT_S}
        )
        self._connection: Connection | None = None

    def try_hold(self) -> bool:
        """True while this process holds the lock. Checks that the connection holding it is
        still alive (if it died, so did the lock), else tries to take it; False when another
        process has it. Raises when the database cannot be reached."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except DBAPIError:
                self.release()
        # Autocommit: an idle transaction held for days would stop VACUUM.
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            held = connection.execute(select(func.pg_try_advisory_lock(self._key))).scalar_one()
        except BaseException:
            connection.close()
            raise
        if held:
            self._connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        """Closing the connection is what releases the lock."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(DBAPIError):
                connection.close()

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()
