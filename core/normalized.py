"""The normalized message every channel parser produces and every core rule reads.

Core never sees a MIME tree, a Slack event or a Twilio form: only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import ConfigDict


class Classification(StrEnum):
    """What screening needs to know about where a message came from."""

    PERSONAL = "personal"
    AUTO_REPLY = "auto_reply"
    """Out-of-office, vacation and other automatic answers (RFC 3834 and its cousins)."""
    BOUNCE = "bounce"
    BULK = "bulk"
    """Mailing-list or bulk mail."""
    LOOP = "loop"
    """Carries our own loop header: something of ours came back."""

    @property
    def is_automatic(self) -> bool:
        return self is not Classification.PERSONAL


@dataclass(frozen=True)
class SenderIdentity:
    type: str
    """``email``, ``phone``, ``whatsapp`` or ``slack``: a ``client_external_ids.type``."""
    value: str
    display_name: str | None = None


@dataclass(frozen=True)
class InboundAttachment:
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(
        ser_json_bytes="base64", val_json_bytes="base64"
    )
    """Content travels as base64 where a message is written as JSON (the ``normalized``
    channel)."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class ThreadHints:
    """Everything threading may use; a channel fills what it has."""

    own_id: str | None = None
    """The message's own external id (Message-ID, Slack ``channel:ts``, Twilio SID)."""
    delivery_id: str | None = None
    """Where senders reuse own ids for different messages (some mailers and devices do with
    Message-IDs): what tells this message from another under the same own id, the same for
    every re-delivery of it. None: the own id alone identifies the message."""
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_token: str | None = None
    """A reply token of ours where the message arrived (a mail's recipient address)."""
    referenced_tokens: tuple[str, ...] = ()
    """Reply tokens the channel found in the ids of our own messages that this one answers
    (our Message-IDs embed one), nearest first."""
    subject_tag: int | None = None
    chat_thread: str | None = None
    """Slack ``channel:thread_ts``: the conversation a chat message belongs to."""
    threadless: bool = False
    """The channel has no threads at all (WhatsApp): a message continues the sender's latest
    ticket."""
    answers_notice: bool = False
    """It answers a notice of ours that concerns no single ticket (a digest): there is no
    conversation to continue, and a new ticket is not what its writer meant."""

    @property
    def referenced(self) -> tuple[str, ...]:
        """Every other message this one names, nearest first, without repeats."""
        return tuple(dict.fromkeys((*self.in_reply_to, *reversed(self.references))))


@dataclass(frozen=True)
class Bounce:
    """A delivery report about mail we sent (RFC 3464): which address failed and how."""

    recipient: str
    """The address that could not be reached, as the report names it."""
    status: str
    """The enhanced status code (``5.1.1``); ``5.x.x`` is permanent, ``4.x.x`` a delay."""
    original_id: str | None = None
    """The Message-ID of our mail that bounced, when the report returns its headers."""
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


@dataclass(frozen=True)
class Receipt:
    """A provider's report on a message we sent (a Twilio status callback): where it got to."""

    provider_id: str
    """The id the provider gave the message when it took it (``outbox.provider_id``)."""
    status: str
    """``queued``, ``sent``, ``delivered``, ``read`` or ``failed``."""
    error: str = ""
    """For ``failed``: the provider's error code and what it means."""


@dataclass(frozen=True)
class Inbound:
    channel: str
    sender: SenderIdentity
    subject: str = ""
    reply_text: str = ""
    """What the sender wrote this time, quotes and signatures removed."""
    full_text: str = ""
    html: str | None = None
    recipients: tuple[str, ...] = ()
    attachments: tuple[InboundAttachment, ...] = ()
    hints: ThreadHints = field(default_factory=ThreadHints)
    classification: Classification = Classification.PERSONAL
    sent_at: datetime | None = None
    """When the sender says it was sent (a mail's Date), naive UTC; stored as the message's
    time where plausible (``core/store.py``)."""
    receiving_address: str | None = None
    """Where it arrived (mailbox address, Slack channel, WhatsApp number): routing reads it."""
    bounces: tuple[Bounce, ...] = ()
    """Set on a delivery report (classification ``bounce``): one per failed recipient."""
    priority: Literal["low", "medium", "high", "urgent"] | None = None
    """How urgent the sender marked it (a mail's ``X-Priority``): a client's message raises
    its ticket's priority to it, never lowers it."""
    internal: bool = False
    """A note about the conversation rather than a message to answer (a chat message edited
    or deleted): kept as an internal note on the ticket its references lead to, changing no
    status and notifying no one; ignored where they lead nowhere."""
    from_agents: bool = False
    """Written where only agents talk (the agents' chat channel): a sender who is no agent is
    parked, never made a client."""
    receipts: tuple[Receipt, ...] = ()
    """Set on a provider's delivery report (no message of anyone's): applied to the outbox rows
    it names, and nothing else is stored."""
    in_clients_view: bool = False
    """Written where the client reads along (a chat channel they share with the agents): an
    agent's message there has reached them, and is stored without being sent again."""

    @property
    def body(self) -> str:
        return self.reply_text or self.full_text
