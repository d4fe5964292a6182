"""How far back a channel looks for its own earlier send of a resumed row (``OutboxView.resumed``:
an earlier claim may have sent it without the outcome being recorded)."""

from __future__ import annotations

from datetime import datetime, timedelta

from threadline.core.senders import OutboxView

CLOCK_MARGIN = timedelta(minutes=1)
"""The provider stamps a send by its own clock, which may be a little behind ours."""


def sent_since(item: OutboxView) -> datetime:
    """Naive UTC: the earliest an earlier send of the row can be stamped by the provider."""
    return item.created_at - CLOCK_MARGIN
