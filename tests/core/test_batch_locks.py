"""The advisory locks a batch takes on PostgreSQL before it reads, as another connection sees
them in ``pg_locks``: the batches' lock shared and one lock per sender and thread key, or,
for a batch with more keys than the lock table should hold, the batches' lock alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.advisory_keys import lock_key
from threadline.core.batch_locks import MAX_KEY_LOCKS
from threadline.core.batch_work import BatchWork

NOW = datetime(2026, 3, 2, 9, 0)
ADVISORY = text(
    "SELECT mode, (classid::bigint << 32) | objid::bigint AS key FROM pg_locks "
    "WHERE locktype = 'advisory' AND pid = :pid"
)
TRY_SHARED = text("SELECT pg_try_advisory_xact_lock_shared(:key)")


@pytest.fixture
def batch(sessions: sessionmaker[Session]) -> Iterator[BatchWork]:
    """A batch in an open transaction, as the processor holds one while it handles it."""
    with sessions.begin() as session:
        yield BatchWork(session, NOW)


def held(engine: Engine, batch: BatchWork) -> list[tuple[str, int]]:
    """The batch's advisory locks, as (mode, key), seen from another connection."""
    pid = batch.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with engine.connect() as other:
        return sorted((mode, _signed(key)) for mode, key in other.execute(ADVISORY, {"pid": pid}))


def _signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_batch_locks_each_sender_and_thread_key_beside_other_batches(
    engine: Engine, batch: BatchWork
):
    senders = [("email", "ada@example.com"), ("email", "bob@example.com")]
    keys = [("email", "<a@x>"), ("email", "<b@x>"), ("email", "<c@x>")]

    batch.prefetch(senders=senders, keys=keys, ticket_ids=[])

    names = [f"sender:{t}:{v}" for t, v in senders] + [f"ref:{c}:{k}" for c, k in keys]
    assert held(engine, batch) == sorted(
        [("ShareLock", lock_key("batches")), *(("ExclusiveLock", lock_key(n)) for n in names)]
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_batch_with_too_many_keys_to_lock_holds_the_batches_lock_alone(
    engine: Engine, batch: BatchWork
):
    keys = [("email", f"<m{n}@x>") for n in range(MAX_KEY_LOCKS + 1)]

    batch.prefetch(senders=[], keys=keys, ticket_ids=[])

    assert held(engine, batch) == [("ExclusiveLock", lock_key("batches"))]
    with engine.begin() as other:
        beside = other.execute(TRY_SHARED, {"key": lock_key("batches")}).scalar_one()
    assert beside is False, "another batch could have run beside it"
