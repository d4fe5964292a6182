"""Each listed channel's dedup key by name, importable without the channels' descriptors (their
settings models load pydantic): how ``threadline ingest``, which an MTA starts once per mail,
keys what it is handed. The functions are the descriptors' own, and
``tests/daemon/test_channel_keys.py`` holds this list to ``daemon/channels.py``'s; a channel
missing here is keyed through its descriptor, at the cost of loading them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from threadline.channels import email, slack, whatsapp
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.slack.dedup import event_dedup_key
from threadline.channels.whatsapp.dedup import message_dedup_key
from threadline.core.dedup import content_key

NORMALIZED = "normalized"
"""``channels/normalized.py``'s name, which that module cannot give without pydantic."""


@dataclass(frozen=True)
class ChannelKey:
    channel: str
    dedup_key: Callable[[bytes], str]


KEYS = (
    ChannelKey(email.CHANNEL, mail_dedup_key),
    ChannelKey(slack.CHANNEL, event_dedup_key),
    ChannelKey(whatsapp.CHANNEL, message_dedup_key),
    ChannelKey(NORMALIZED, content_key),
)


def channel_key(name: str) -> ChannelKey | None:
    """None for a name not listed here."""
    return next((key for key in KEYS if key.channel == name), None)
