"""The ``normalized`` channel: messages already in core's normalized form, written as JSON.

For importing conversations from another help desk or feeding messages from a system of your
own (``threadline ingest --channel normalized FILE``): one JSON document per item, the fields of
``core.normalized.Inbound``, attachment content in base64. The message keeps the channel it
names (``"channel": "email"``), so its ids thread with that channel's messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from threadline.channels.descriptor import Channel
from threadline.core.dedup import content_key
from threadline.core.normalized import Inbound
from threadline.core.outcome import Park

CHANNEL = "normalized"

_INBOUND = TypeAdapter(Inbound)


def parse(raw: bytes, _meta: Mapping[str, Any]) -> Inbound:
    try:
        return _INBOUND.validate_json(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}" for e in error.errors()
        )
        raise Park(f"not a normalized message: {problems}") from None


def encode(inbound: Inbound) -> bytes:
    return _INBOUND.dump_json(inbound)


NORMALIZED = Channel(name=CHANNEL, parse=parse, dedup_key=content_key, parse_in_workers=False)
"""pydantic-core validates the JSON faster than it could be shipped to a parse worker."""
