"""What one outbox row posts in Slack, read from the database when it is sent: the text,
escaped, the files, and where it goes (``channels/slack/threads.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.channels.slack.mrkdwn import escaped
from threadline.channels.slack.threads import Thread, client_thread, started_thread
from threadline.core.message_files import MessageFile, message_files
from threadline.core.models import Client, Message, Ticket, User
from threadline.core.notification_types import headline
from threadline.core.senders import OutboxView, PermanentSendError

NOTIFICATION_HINT = (
    "_Reply in this thread to answer the client; start with `note:` to keep it internal._"
)


@dataclass(frozen=True)
class Post:
    conversation: str
    """A channel id, or a user id for a DM not started yet."""
    thread: Thread | None
    """None: the post starts a thread."""
    text: str
    files: tuple[MessageFile, ...] = ()

    @property
    def target(self) -> tuple[str, str | None]:
        """Where it goes: the conversation, and the ts of its thread (None: top level)."""
        if self.thread:
            return self.thread.conversation, self.thread.ts
        return self.conversation, None


def outgoing_post(session: Session, item: OutboxView, now: datetime) -> Post:
    """Raises :class:`~threadline.channels.slack.threads.SiblingInFlight` while the row's
    thread is being started by another."""
    if item.ticket_id is None:
        return _notice(item)
    title = session.scalar(select(Ticket.title).where(Ticket.id == item.ticket_id))
    if title is None:
        raise PermanentSendError(f"ticket {item.ticket_id} of outbox row {item.id} is gone")
    body = escaped(str(item.payload.get("body", "")))
    thread = (
        client_thread(session, item.ticket_id)
        if item.kind in ("reply", "acknowledgement")
        else None
    )
    thread = thread or started_thread(session, item, now)
    heading = f"*#{item.ticket_id} {escaped(title)}*"
    files: tuple[MessageFile, ...] = ()
    if item.kind in ("reply", "acknowledgement"):
        text, files = body, message_files(session, item.message_id)
    elif item.kind == "notification":
        event = headline(str(item.payload.get("type")))
        author = _author(session, item.message_id)
        text = f"{event}: {heading}\n*{author}:*\n{body}\n\n{NOTIFICATION_HINT}"
    else:
        author = _author(session, item.message_id)
        text = f"*{author}:*\n{body}" if thread else f"{heading}\n*{author}:*\n{body}"
        files = message_files(session, item.message_id)
    return Post(_conversation(item), thread, text, files)


def _notice(item: OutboxView) -> Post:
    """A notification that concerns no single ticket (a digest): a DM of its own, never a
    thread of earlier ones, all it says read from the row."""
    if item.kind != "notification":
        raise PermanentSendError(f"outbox row {item.id} names no ticket; there is nothing to send")
    event = headline(str(item.payload.get("type")))
    subject = escaped(str(item.payload.get("subject", "")))
    body = escaped(str(item.payload.get("body", "")))
    return Post(_conversation(item), None, f"*{event}: {subject}*\n{body}")


def _conversation(item: OutboxView) -> str:
    """Clients and agents are ``TEAM:USER``, posted to as the user (a DM); the feed's
    recipient is its channel."""
    return item.recipient.rpartition(":")[2]


def _author(session: Session, message_id: int | None) -> str:
    found = session.execute(
        select(Message.channel, Client.name, User.name)
        .outerjoin(Client, Client.id == Message.client_id)
        .outerjoin(User, User.id == Message.user_id)
        .where(Message.id == message_id)
    ).one_or_none()
    if found is None:
        return "Someone"
    channel, client, agent = found
    if not (client or agent):
        return "The desk"
    name = escaped(client or agent)
    return f"{name} (agent, by {channel})" if agent else f"{name} (by {channel})"
