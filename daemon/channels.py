"""The channels that exist: the one list the settings, the parsers, the senders, the
components, the HTTP routes and ``threadline ingest --channel`` are derived from.

A new channel is a sub-package of ``channels/`` exporting a descriptor, and one line here; one
more in ``daemon/channel_keys.py`` lets ``threadline ingest`` key its items without loading
every descriptor.
"""

from __future__ import annotations

from threadline.channels.descriptor import Channel
from threadline.channels.email.channel import EMAIL
from threadline.channels.normalized import NORMALIZED
from threadline.channels.slack.channel import SLACK
from threadline.channels.whatsapp.channel import WHATSAPP
from threadline.core.channel_traits import ChannelTraits
from threadline.core.parsers import ParserRegistry, UnknownChannel

CHANNELS: list[Channel] = [EMAIL, SLACK, WHATSAPP, NORMALIZED]


def channel(name: str) -> Channel:
    for candidate in CHANNELS:
        if candidate.name == name:
            return candidate
    raise UnknownChannel(f"unknown channel {name!r}; the channels are {', '.join(names())}")


def names() -> list[str]:
    return [candidate.name for candidate in CHANNELS]


def traits() -> dict[str, ChannelTraits]:
    return {candidate.name: candidate.traits for candidate in CHANNELS}


def build_parsers() -> ParserRegistry:
    """Module-level, as the parse workers import it by name to build their own registry."""
    parsers = ParserRegistry()
    for candidate in CHANNELS:
        parsers.register(candidate.name, candidate.parse, in_workers=candidate.parse_in_workers)
    return parsers
