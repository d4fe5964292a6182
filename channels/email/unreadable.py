"""A mail the parser cannot read still reaches the desk: as it arrived, attached, from whoever
can be told from its bytes. Only a mail without any sender is parked, since a ticket needs a
client."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from threadline.channels.email.addresses import envelope_sender, receiving_address
from threadline.channels.email.thread_ids import INVALID_DOMAIN
from threadline.core.normalized import Inbound, InboundAttachment, SenderIdentity, ThreadHints
from threadline.core.outcome import Park

SUBJECT = "(unreadable message)"
TEXT = "This mail could not be read. It is attached as it arrived (message.eml)."
_HEADER_LIMIT = 64 * 1024
_SENDER_LINES = tuple(
    re.compile(
        rb"^" + name + rb"[ \t]*:[^\r\n]*?([A-Za-z0-9._%+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",
        re.MULTILINE | re.IGNORECASE,
    )
    for name in (b"From", b"Reply-To", b"Sender", b"Return-Path")
)
"""In the order they name a sender."""


def unreadable(channel: str, raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    sender = envelope_sender(meta) or _sender_in_header(raw)
    if sender is None:
        raise Park(
            "unreadable mail with no sender address anywhere (no From, Reply-To, Sender or "
            "envelope sender): it is kept as it came (`threadline inbound show ID`)"
        )
    return Inbound(
        channel=channel,
        sender=SenderIdentity("email", sender),
        subject=SUBJECT,
        full_text=TEXT,
        attachments=(InboundAttachment("message.eml", "message/rfc822", raw),),
        hints=ThreadHints(own_id=f"{hashlib.sha256(raw).hexdigest()}@{INVALID_DOMAIN}"),
        receiving_address=receiving_address(meta, ()),
    )


def _sender_in_header(raw: bytes) -> str | None:
    """The first address on a sender line of the header (everything up to the first blank
    line), read with a regular expression since nothing better could read it."""
    header = raw[:_HEADER_LIMIT]
    ends = [end for end in (header.find(b"\r\n\r\n"), header.find(b"\n\n")) if end >= 0]
    if ends:
        header = header[: min(ends)]
    for pattern in _SENDER_LINES:
        match = pattern.search(header)
        if match:
            return match[1].decode("ascii")
    return None
