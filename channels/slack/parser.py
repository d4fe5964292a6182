"""A Slack event, as stored at accept, into the normalized message.

Messages are keyed ``channel:ts`` (a ``message`` and an ``app_mention`` about one message are
one message), and every message names its thread ``channel:thread_ts``, a top-level message
its own key: a reply in the thread meets the ticket of the message that started it, or of our
post that did. An edit or a deletion is kept as an internal note on the edited message's
ticket. Pure: names and files are fetched afterwards (``channels/slack/fetch.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from threadline.channels.slack import CHANNEL
from threadline.channels.slack.mrkdwn import plain_text
from threadline.channels.slack.places import DELETED, EDITED, Place, written
from threadline.core.normalized import Inbound, SenderIdentity, ThreadHints
from threadline.core.outcome import Park

TITLE_LENGTH = 80
SENDER_TYPE = "slack"


def parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    try:
        envelope = json.loads(raw)
        event = envelope["event"]
        place = Place(meta["place"])
        message = written(event)
        if message is None:
            raise KeyError("subtype")
        sender = SenderIdentity(SENDER_TYPE, f"{author_team(envelope, message)}:{message['user']}")
        channel = event["channel"]
        subtype = event.get("subtype")
        if subtype in (EDITED, DELETED):
            return _note(sender, channel, message, deleted=subtype == DELETED)
        return _message(sender, channel, message, place, bool(meta.get("continues_open")))
    except (ValueError, KeyError, TypeError) as error:
        raise Park(f"not a Slack message event: {error!r}") from None


def author_team(envelope: Mapping[str, Any], message: Mapping[str, Any]) -> str:
    """The writer's own workspace: another one's in a Slack Connect channel."""
    return str(message.get("user_team") or message.get("team") or envelope["team_id"])


def sent_time(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC).replace(tzinfo=None)


def _message(
    sender: SenderIdentity,
    channel: str,
    message: Mapping[str, Any],
    place: Place,
    continues_open: bool,
) -> Inbound:
    ts = message["ts"]
    thread_ts = message.get("thread_ts", ts)
    text = plain_text(message.get("text", ""))
    return Inbound(
        channel=CHANNEL,
        sender=sender,
        subject=_title(text),
        reply_text=text,
        full_text=text,
        hints=ThreadHints(
            own_id=f"{channel}:{ts}",
            chat_thread=f"{channel}:{thread_ts}",
            threadless=continues_open and thread_ts == ts and place is not Place.AGENTS,
        ),
        sent_at=sent_time(ts),
        receiving_address=channel,
        from_agents=place is Place.AGENTS,
        in_clients_view=place in (Place.SUPPORT, Place.SHARED),
    )


def _note(
    sender: SenderIdentity, channel: str, message: Mapping[str, Any], deleted: bool
) -> Inbound:
    ts = message["ts"]
    if deleted:
        own_id, text = f"{channel}:{ts}:deleted", "Deleted in Slack by its writer."
    else:
        edited = message.get("edited", {}).get("ts", "")
        new_text = plain_text(message.get("text", ""))
        own_id, text = f"{channel}:{ts}:edited:{edited}", f"Edited in Slack; now:\n{new_text}"
    return Inbound(
        channel=CHANNEL,
        sender=sender,
        reply_text=text,
        full_text=text,
        hints=ThreadHints(own_id=own_id, in_reply_to=(f"{channel}:{ts}",)),
        internal=True,
    )


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= TITLE_LENGTH:
        return first or "Slack message"
    return first[: TITLE_LENGTH - 1].rstrip() + "…"
