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


class TooEarly(Exception):
    """Retrying will soon help: the item names something the desk is about to record (our own
    Slack post, whose ref is written just after Slack answered, can be answered in its thread
    before that). It waits its backoff like any failure and is parked when its attempts run
    out, as when it never names anything of ours."""
