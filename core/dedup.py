"""The keys that deduplicate accepted items: what a channel hands over, bounded to the column;
a digest of the bytes where the channel offers no id of its own. A module of their own, so a
channel computes them without importing the database layer."""

from __future__ import annotations

import hashlib

MAX_DEDUP_KEY = 255


def dedup_key(text: str) -> str:
    """Keys longer than the column (some Message-IDs are), or that PostgreSQL cannot store
    (with a NUL), are replaced by their digest."""
    if len(text) <= MAX_DEDUP_KEY and "\x00" not in text:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def content_key(raw: bytes) -> str:
    """For a channel that offers no id of its own (a pipe from an MTA): the same bytes twice are
    the same delivery, whatever envelope came with them."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()
