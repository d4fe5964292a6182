"""Which Slack events are the desk's, decided when they arrive, before anything is stored.

Customers write in DMs to the app, in the support channels, and in Slack Connect channels
(shared with other workspaces); agents write in the threads of the agents' channel. What bots
and apps post (ours included) never becomes a message, so nothing we post can loop back; nor
does an edit that changed no text (Slack sends one when it unfurls a link).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from threadline.channels.slack.settings import SlackSettings


class Place(StrEnum):
    DIRECT = "direct"
    """A DM to the app."""
    SUPPORT = "support"
    """A listed support channel."""
    SHARED = "shared"
    """A Slack Connect channel."""
    AGENTS = "agents"
    """A ticket's thread in the agents' channel."""


MESSAGE_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
EDITED = "message_changed"
DELETED = "message_deleted"


def place_of(envelope: dict[str, Any], settings: SlackSettings) -> Place | None:
    """None: the event is none of the desk's business (answered, not stored)."""
    event = envelope.get("event")
    if not isinstance(event, dict) or event.get("type") not in ("message", "app_mention"):
        return None
    subtype = event.get("subtype")
    message = written(event)
    if (
        message is None
        or message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or not message.get("user")
        or (subtype == EDITED and not _text_changed(event))
    ):
        return None
    channel = event.get("channel")
    if channel == settings.agents_channel:
        reply = message.get("thread_ts", message.get("ts")) != message.get("ts")
        return Place.AGENTS if reply and subtype in MESSAGE_SUBTYPES else None
    if event.get("channel_type") == "im":
        return Place.DIRECT
    if channel in settings.support_channels:
        return Place.SUPPORT
    if envelope.get("is_ext_shared_channel"):
        return Place.SHARED
    return None


def written(event: dict[str, Any]) -> dict[str, Any] | None:
    """The message an event is about: itself, the edited message, or the deleted one."""
    subtype = event.get("subtype")
    if subtype == EDITED:
        message = event.get("message")
    elif subtype == DELETED:
        message = event.get("previous_message")
    elif subtype in MESSAGE_SUBTYPES:
        message = event
    else:
        return None
    return message if isinstance(message, dict) else None


def _text_changed(event: dict[str, Any]) -> bool:
    before = event.get("previous_message") or {}
    return bool(event["message"].get("text") != before.get("text"))
