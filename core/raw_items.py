"""Raw items as accepted: what a channel hands in, what it is answered, and the rules of a batch
that both ways of accepting follow (the ORM's ``Intake``, and ``core/driver_intake.py`` for
``threadline ingest``). Without SQLAlchemy, so the second loads none of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from threadline.core.dedup import dedup_key
from threadline.core.storable import storable_document

INBOUND_ITEMS = "inbound_items"
COLUMNS = ("channel", "dedup_key", "raw", "meta")
"""What an accept writes of each item; the table's defaults fill in the rest (``pending``, no
attempts, the clock)."""
UNIQUE = ("channel", "dedup_key")
"""A key already stored (or being stored by a concurrent transaction) is skipped, not refused."""

Key = tuple[str, str]


@dataclass(frozen=True)
class RawItem:
    channel: str
    dedup_key: str
    raw: bytes
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    id: int
    duplicate: bool


def first_of_each_key(items: Sequence[RawItem]) -> tuple[list[Key], dict[Key, RawItem]]:
    """Each item's stored key, in order, and the first item of each: a key repeated inside the
    batch is stored once."""
    keys = [(item.channel, dedup_key(item.dedup_key)) for item in items]
    first: dict[Key, RawItem] = {}
    for key, item in zip(keys, items, strict=True):
        first.setdefault(key, item)
    return keys, first


def row(key: Key, item: RawItem) -> tuple[str, str, bytes, Any]:
    """The values of :data:`COLUMNS`, as the database can hold them."""
    channel, stored_key = key
    return channel, stored_key, item.raw, storable_document(item.meta)


def answers(keys: list[Key], created: dict[Key, int], existing: dict[Key, int]) -> list[Accepted]:
    """In the order given: the first occurrence of a key this batch stored is new, every other
    occurrence a duplicate of the stored item."""
    answered: set[Key] = set()
    result = []
    for key in keys:
        new = key in created and key not in answered
        result.append(Accepted(created[key] if key in created else existing[key], not new))
        answered.add(key)
    return result
