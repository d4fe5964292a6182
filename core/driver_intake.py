"""Accept through the database driver alone: for ``threadline ingest``, which an MTA starts once
per mail, where loading SQLAlchemy would cost more than the rest of the run.

The rows are those ``Intake`` writes (its columns, the table's defaults, the clock's form on
each database), the batch follows the same rules (``core/raw_items.py``), and a commit that
stores an item wakes the daemons listening on PostgreSQL, as ``Intake``'s does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from threadline.core.dbapi import Transaction, transaction
from threadline.core.queue_channels import queue_channel
from threadline.core.raw_items import (
    COLUMNS,
    INBOUND_ITEMS,
    UNIQUE,
    Accepted,
    Key,
    RawItem,
    answers,
    first_of_each_key,
    row,
)
from threadline.core.utc import now_utc

_STAMPS = ("created_at", "updated_at")


def accept_many(url: str, items: Sequence[RawItem]) -> list[Accepted]:
    """Store a batch in one commit on the database at ``url`` (as ``supported_url`` gives it);
    answers in the order given, as ``Intake.accept_many``."""
    keys, first = first_of_each_key(items)
    if not first:
        return []
    created: dict[Key, int] = {}
    existing: dict[Key, int] = {}
    with transaction(url) as database:
        now = now_utc()
        insert, select = _statements(database.postgresql)
        for key, item in first.items():
            stored = database.execute(insert, _values(database, row(key, item), now))
            if stored:
                created[key] = stored[0][0]
            else:
                existing[key] = database.execute(select, key)[0][0]
        if created and database.postgresql:
            database.execute(f"NOTIFY {queue_channel(INBOUND_ITEMS)}")
    return answers(keys, created, existing)


def _statements(postgresql: bool) -> tuple[str, str]:
    """The insert that skips a stored key and returns the new id, and the look-up of a stored
    key's id, in the driver's placeholders."""
    mark = "%s" if postgresql else "?"
    marks = [mark] * (len(COLUMNS) + len(_STAMPS))
    if postgresql:
        marks[COLUMNS.index("meta")] = f"{mark}::jsonb"
    names = ", ".join((*COLUMNS, *_STAMPS))
    unique = ", ".join(UNIQUE)
    insert = (
        f"INSERT INTO {INBOUND_ITEMS} ({names}) VALUES ({', '.join(marks)}) "  # noqa: S608
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING id"
    )
    where = " AND ".join(f"{name} = {mark}" for name in UNIQUE)
    select = f"SELECT id FROM {INBOUND_ITEMS} WHERE {where}"  # noqa: S608
    return insert, select


def _values(database: Transaction, values: tuple[Any, ...], now: datetime) -> tuple[Any, ...]:
    """The values in the forms SQLAlchemy's column types write: the document as JSON text, and
    on SQLite the time as text with its microseconds."""
    channel, key, raw, meta = values
    stamp: Any = now if database.postgresql else now.isoformat(" ", "microseconds")
    return channel, key, raw, json.dumps(meta), stamp, stamp
