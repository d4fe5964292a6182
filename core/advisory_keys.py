"""Keys of PostgreSQL advisory locks, one space for every lock threadline takes."""

from __future__ import annotations

import hashlib


def lock_key(name: str) -> int:
    """A stable signed 64-bit key (``hash()`` differs between processes)."""
    digest = hashlib.sha256(f"threadline:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
