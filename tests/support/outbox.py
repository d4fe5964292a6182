"""The channel side of the dispatcher, played by the tests: a sender that records what it was
given and fails on command, a process that dies around a real sender's send, and a clock the
test moves by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk import build_desk
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import Message
from threadline.core.models.base import now_utc
from threadline.core.outbox import Outgoing, enqueue
from threadline.core.senders import OutboxView, Sender, SenderRegistry, SendResult
from threadline.core.settings import DispatchSettings

START = datetime(2024, 6, 1, 12, 0)


@dataclass
class FakeClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class RecordingSender:
    """Answers ``provider-<row id>`` unless a failure is queued with :meth:`fail_next`."""

    sent: list[OutboxView] = field(default_factory=list)
    provider_id: Callable[[OutboxView], str | None] = lambda item: f"provider-{item.id}"
    during_send: Callable[[OutboxView], None] | None = None
    _failures: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *errors: BaseException) -> None:
        self._failures.extend(errors)

    def send(self, item: OutboxView) -> SendResult:
        with self._lock:
            self.sent.append(item)
            failure = self._failures.pop(0) if self._failures else None
        if self.during_send is not None:
            self.during_send(item)
        if failure is not None:
            raise failure
        return SendResult(self.provider_id(item))


class Crash(BaseException):
    """The process dying: nothing after it runs, not even the dispatcher's record."""


@dataclass
class CrashingOnce:
    """A channel's real sender in a process that dies once: before its first send, or once
    that send went out, before the dispatcher records it."""

    sender: Sender
    after_send: bool
    crashed: bool = False

    def send(self, item: OutboxView) -> SendResult:
        if not self.crashed:
            self.crashed = True
            if self.after_send:
                self.sender.send(item)
            raise Crash
        return self.sender.send(item)


def dispatch_through_crash(
    sessions: sessionmaker[Session], channel: str, sender: Sender, after_send: bool
) -> None:
    """Dispatches what is due in a process that dies around its first send, then, once the
    dead worker's lease has run out, again: its row comes back resumed."""
    settings = DispatchSettings()
    clock = FakeClock(now_utc())
    senders = SenderRegistry()
    senders.register(channel, CrashingOnce(sender, after_send))
    dispatcher = Dispatcher(sessions, senders, settings, clock)
    try:
        dispatcher.run_batch()
    except Crash:
        clock.advance(settings.lease)
        dispatcher.run_batch()
    else:
        raise AssertionError("nothing was due to send")


@dataclass(frozen=True)
class Conversation:
    ticket_id: int
    message_id: int


def conversation(sessions: sessionmaker[Session]) -> Conversation:
    """A ticket with a message that outbox rows can belong to."""
    with sessions.begin() as session:
        desk = build_desk(session)
        message_id = session.scalars(
            select(Message.id).where(Message.ticket_id == desk.conversation_id)
        ).first()
        assert message_id is not None
        return Conversation(desk.conversation_id, message_id)


def reply(
    key: str, ticket: Conversation | None = None, channel: str = "test", recipient: str = "a@b.c"
) -> Outgoing:
    return Outgoing(
        channel=channel,
        kind="reply",
        recipient=recipient,
        payload={"body": f"answer {key}"},
        idempotency_key=key,
        ticket_id=ticket.ticket_id if ticket else None,
        message_id=ticket.message_id if ticket else None,
    )


def enqueued(sessions: sessionmaker[Session], *outgoing: Outgoing) -> list[int]:
    with sessions.begin() as session:
        ids = [enqueue(session, item) for item in outgoing]
    assert None not in ids
    return [row_id for row_id in ids if row_id is not None]
