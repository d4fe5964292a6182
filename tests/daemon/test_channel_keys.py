"""The dedup keys ``threadline ingest`` takes without the descriptors are the descriptors' own,
for every listed channel."""

from __future__ import annotations

from threadline.daemon import channels
from threadline.daemon.channel_keys import KEYS, channel_key


def test_every_listed_channel_is_keyed_by_its_descriptor_s_own_function():
    assert [key.channel for key in KEYS] == channels.names()
    for channel in channels.CHANNELS:
        key = channel_key(channel.name)
        assert key is not None
        assert key.dedup_key is channel.dedup_key


def test_a_name_no_channel_has_is_not_keyed():
    assert channel_key("telegraph") is None
