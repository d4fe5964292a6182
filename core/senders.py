"""The contract between the dispatcher and the channels that deliver its rows.

Core knows no channel: each channel registers a :class:`Sender` under its name, and the
dispatcher only ever sees this protocol, its result and its two exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

SENT_DELIVERY_STATUSES = ("queued", "sent", "delivered", "read")
"""What a provider may report when it accepts a message. A refusal is a
:class:`PermanentSendError`, not a ``failed`` result."""
MAX_PROVIDER_ID = 255
"""The outbox column's width."""


@dataclass(frozen=True)
class OutboxView:
    """A detached copy of a claimed row: senders run outside any transaction, so they get no
    ORM object that could lazy-load (or write) behind the dispatcher's back."""

    id: int
    channel: str
    kind: str
    recipient: str
    payload: dict[str, Any]
    ticket_id: int | None
    message_id: int | None
    attempts: int
    """Earlier tries of this row; 0 on the first."""
    created_at: datetime
    """When the row was queued."""
    idempotency_key: str
    """Stable across retries: a channel whose provider deduplicates (an email Message-ID made
    from it, an API idempotency header) turns a resend after a crash into a no-op."""
    resumed: bool = False
    """An earlier claim of the row ended with no outcome recorded (its worker died, or its
    record failed): that send may have gone out. A channel that can look its own posts up
    does so before sending again."""


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    """The provider's id of what was sent, in the form the channel's threading looks it up
    (email Message-ID, Slack ``channel:ts``, Twilio SID): it becomes a message ref of the ticket,
    so a reply to it threads back. None if the provider gives none."""
    delivery_status: str = "sent"

    def __post_init__(self) -> None:
        # Refused here, in the sender, rather than by the database when the send is recorded:
        # a row whose outcome cannot be recorded would be sent again after every lease.
        if self.provider_id is not None and len(self.provider_id) > MAX_PROVIDER_ID:
            raise ValueError(f"provider id longer than {MAX_PROVIDER_ID} characters")
        if self.delivery_status not in SENT_DELIVERY_STATUSES:
            raise ValueError(
                f"delivery status {self.delivery_status!r} is not one a send can report; use one "
                f"of {', '.join(SENT_DELIVERY_STATUSES)} or raise PermanentSendError"
            )


class Sender(Protocol):
    def send(self, item: OutboxView) -> SendResult:
        """Deliver one row. Runs in one of the dispatcher's threads, beside sends of other
        rows (never of the same ticket), so blocking I/O is fine and shared state is locked.

        Raise :class:`TransientSendError` for what a later try may fix (timeouts, 4xx SMTP,
        HTTP 429/5xx), :class:`PermanentSendError` for what it cannot (invalid recipient, 5xx
        SMTP, a rejected payload). Any other exception is treated as transient.
        """
        ...


@runtime_checkable
class ReadsAhead(Protocol):
    def read_ahead(self, items: Sequence[OutboxView]) -> None:
        """Told a batch's rows of this channel before any of them is sent, outside any
        transaction: the sender reads what they need in a few queries rather than a few per
        row, and :meth:`Sender.send` then uses what it read. The next batch is told while this
        one is still sent, never the one after it: a sender keeps what it read for two."""
        ...


class TransientSendError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds the provider asked us to wait (HTTP Retry-After); the row waits at least
        this long, longer if the backoff says so."""


class NotYet(Exception):
    """The destination's pace (``core/send_pace.py``) holds the row back: it is due again in
    ``seconds``, and no try is counted."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the destination's pace holds the row back {seconds:.1f} s")
        self.seconds = seconds


class PermanentSendError(Exception):
    """Retrying cannot help: the row is ``parked`` at once for an operator to look at."""


class SenderRegistry:
    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, channel: str, sender: Sender) -> None:
        if channel in self._senders:
            raise ValueError(f"channel {channel!r} already has a sender")
        self._senders[channel] = sender

    def get(self, channel: str) -> Sender | None:
        return self._senders.get(channel)
