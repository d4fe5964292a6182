"""How handling one inbound item ended, as the processor records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Outcome:
    status: Literal["done", "ignored"]
    message_id: int | None = None
    """The stored message, for ``done``."""
    reason: str | None = None
    """Why an item was ``ignored`` (a duplicate, our own mail come back, ...)."""


class Park(Exception):
    """Retrying cannot help (unknown sender under the ``park`` policy, no parser for the
    channel): the item is ``parked`` at once, with this message as its error."""
