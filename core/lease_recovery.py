"""A dead daemon's leases come back at once, not when they expire.

SQLite: at a start, every lease ends (the instance lock proves that no other process holds
one). PostgreSQL: each worker holds a session advisory lock named after its worker id for as
long as it lives (``presence_lock``); PostgreSQL releases it when the worker's connection ends,
however the process died. A cluster-wide job then finds the lease holders whose lock is free:
their leases end, and the work is claimed again within a tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from threadline.core.advisory_keys import lock_key
from threadline.core.leased_queue import PENDING, RELEASED


def presence_lock(worker_id: str) -> str:
    """The name of the advisory lock a living worker holds."""
    return f"worker:{worker_id}"


def release_all(connection: Connection, tables: Sequence[Table]) -> int:
    """Every lease of ``tables`` ends now; how many. Only where nobody else can hold one."""
    return _release(connection, tables, lambda owner: owner.is_not(None))


def release_orphaned(connection: Connection, tables: Sequence[Table]) -> int:
    """PostgreSQL: the leases whose holders hold no presence lock end now; how many. A free
    lock is taken for the rest of the transaction, so its holder cannot be starting meanwhile
    (a new worker has a new id anyway)."""
    holders = set()
    for table in tables:
        holders |= set(
            connection.execute(
                select(table.c.lease_owner)
                .where(table.c.status == PENDING, table.c.lease_owner.is_not(None))
                .distinct()
            ).scalars()
        )
    orphaned = [
        holder
        for holder in sorted(holders)
        if connection.execute(
            select(func.pg_try_advisory_xact_lock(lock_key(presence_lock(holder))))
        ).scalar_one()
    ]
    if not orphaned:
        return 0
    return _release(connection, tables, lambda owner: owner.in_(orphaned))


def _release(
    connection: Connection,
    tables: Sequence[Table],
    holders: Callable[[ColumnElement[str]], ColumnElement[bool]],
) -> int:
    """Ends the pending rows' leases whose holder ``holders`` selects; how many."""
    released = 0
    for table in tables:
        released += connection.execute(
            update(table)
            .where(table.c.status == PENDING, holders(table.c.lease_owner))
            .values(**RELEASED)
        ).rowcount
    return released
