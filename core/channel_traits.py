"""What core may know of a channel: its traits, never its name or its formats.

The daemon hands core a :class:`ChannelTraits` per channel name (from each channel's
descriptor); a rule asks "does this channel verify its senders?", not "is this email?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelTraits:
    client_id_type: str | None = None
    """The external-id type a client is reached at on this channel (``email``, ``phone``...):
    an agent's reply goes to the client's id of this type (or its twin, a phone number's
    WhatsApp sender). None: nothing is sent to clients on it."""
    verifies_sender: bool = False
    """The provider asserts who wrote (a signed Slack event names its user). Where it does not
    (a mail's From: is trivially forged), an agent is only an agent through a reply token
    issued to them."""
    agent_id_type: str | None = None
    """The external-id type that names an agent on this channel: ``email`` is a user's
    ``users.email``; any other is the ``provider`` of their ``user_oauth_accounts``. None: no
    agent is known on it."""
    carries_notifications: bool = False
    """Agents' notifications may be delivered on it (``[notifications] channel``)."""


DEFAULT_TRAITS = ChannelTraits()
"""For a channel the daemon does not list (a message imported under a channel's name that is
not configured here): nothing verified, no agent."""


def traits_of(traits: Mapping[str, ChannelTraits], channel: str | None) -> ChannelTraits:
    return traits.get(channel, DEFAULT_TRAITS) if channel is not None else DEFAULT_TRAITS
