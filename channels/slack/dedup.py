"""The dedup key of a Slack event that ``threadline ingest`` hands in. A module of its own, so the
command keys it without loading the channel's descriptor (its settings load pydantic)."""

from __future__ import annotations

import json


def event_dedup_key(raw: bytes) -> str:
    """The event's ``event_id``, as the events route keys it."""
    return str(json.loads(raw)["event_id"])
