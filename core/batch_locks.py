"""PostgreSQL: the advisory locks a batch takes before it reads, so that two batches holding
messages of one conversation or one sender run one after the other.

Several processors may share the queue; the later of two such batches then reads what the
earlier committed. Without them, a reply handled beside the message it answers missed it and
opened a ticket of its own, and both batches' refs of one key deadlocked. Either order threads
alike (a ticket keeps every id its messages reference). Each set of locks is taken in key order,
senders and thread keys before tickets, so batches never wait for each other in a circle.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from threadline.core.advisory_keys import lock_key

MAX_KEY_LOCKS = 1000
"""Advisory locks share PostgreSQL's lock table, of ``max_locks_per_transaction`` (64) times
``max_connections`` (100) entries by default: a batch with more senders and thread keys than
this (a ``batch_size`` of several hundred) runs alone rather than lock each of them."""
_BATCHES = lock_key("batches")
_BATCH_BESIDE_OTHERS = text("SELECT pg_advisory_xact_lock_shared(:key)")
_BATCH_ALONE = text("SELECT pg_advisory_xact_lock(:key)")
_KEY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"
)
"""Waits for each lock in the array's order (a function scan yields its elements in order)."""


def lock_batch(session: Session, names: list[str]) -> bool:
    """Every batch holds the batches' lock, shared; one with more keys than
    :data:`MAX_KEY_LOCKS` holds it alone instead of locking its keys. True: alone."""
    alone = len(names) > MAX_KEY_LOCKS
    if session.get_bind().dialect.name != "postgresql":
        return alone
    lock = _BATCH_ALONE if alone else _BATCH_BESIDE_OTHERS
    session.connection().execute(lock, {"key": _BATCHES})
    if not alone:
        lock_keys(session, names)
    return alone


def lock_keys(session: Session, names: list[str]) -> None:
    if not names or session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({lock_key(name) for name in names})
    session.connection().execute(_KEY_LOCKS, {"keys": keys})
