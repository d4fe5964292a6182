"""The dedup key of a Twilio message webhook that ``threadline ingest`` hands in. A module of its
own, so the command keys it without loading the channel's descriptor (its settings load
pydantic)."""

from __future__ import annotations

from urllib.parse import parse_qsl


def message_dedup_key(raw: bytes) -> str:
    """The webhook body's ``MessageSid``, as the message route keys it."""
    return dict(parse_qsl(raw.decode("utf-8")))["MessageSid"]
