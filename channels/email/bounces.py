"""Delivery status reports (RFC 3464): which of our recipients failed, how, and for which mail.

The report's ``message/delivery-status`` part holds one block of fields per recipient; the mail
that bounced comes back as a ``message/rfc822`` or ``text/rfc822-headers`` part, whose
Message-ID threads the report onto the ticket of that mail. Non-standard bounces (plain text
from MAILER-DAEMON) often quote the returned headers in their text: their Message-ID is looked
for there too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from threadline.channels.email.charsets import content_charset, decode_bytes, unfolded
from threadline.channels.email.thread_ids import message_ids
from threadline.core.normalized import Bounce

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_FAILED_ACTIONS = frozenset({"failed", "delayed"})
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)
_HEADERS = HeaderParser(policy=compat32)
MAX_DIAGNOSTIC = 1000


def is_delivery_report(message: Message) -> bool:
    """A ``multipart/report`` of delivery status; some MTAs leave out its ``report-type``."""
    if message.get_content_type() != "multipart/report":
        return False
    report_type = message.get_param("report-type")
    if isinstance(report_type, str) and report_type.lower() == "delivery-status":
        return True
    return next(_parts(message, "message/delivery-status"), None) is not None


def bounces(report: Message) -> tuple[Bounce, ...]:
    """One :class:`Bounce` per recipient the report says failed or was delayed."""
    original = returned_message_id(report)
    found = []
    for status_part in _parts(report, "message/delivery-status"):
        blocks = status_part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:
            bounce = _bounce(block, original)
            if bounce is not None:
                found.append(bounce)
    return tuple(found)


def reporting_mta(report: Message) -> str | None:
    """The host that wrote the report (its per-message block), for a report without any
    sender address."""
    for status_part in _parts(report, "message/delivery-status"):
        blocks = status_part.get_payload()
        if isinstance(blocks, list) and blocks:
            value = _field(blocks[0], "reporting-mta").rpartition(";")[2].strip()
            if len(value.split()) == 1:
                return value
    return None


def returned_message_id(message: Message) -> str | None:
    """The Message-ID of the mail a report (or a plain-text bounce) returns."""
    for part in _parts(message, "message/rfc822"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            found = message_ids(_raw_values(inner[0], "message-id"))
            if found:
                return found[0]
    for part in _parts(message, "text/rfc822-headers"):
        headers = _HEADERS.parsestr(_text(part), headersonly=True)
        found = message_ids(_raw_values(headers, "message-id"))
        if found:
            return found[0]
    return None


def quoted_message_id(text: str) -> str | None:
    match = _QUOTED_MESSAGE_ID.search(text)
    return None if match is None else message_ids([match[1]])[0]


def _bounce(block: Message, original: str | None) -> Bounce | None:
    action = _field(block, "action").lower()
    if action in _SUCCESS_ACTIONS:
        return None
    recipient = _address(_field(block, "final-recipient") or _field(block, "original-recipient"))
    diagnostic = _field(block, "diagnostic-code")
    status = _status(_field(block, "status")) or _status(diagnostic)
    if status is None:
        if action not in _FAILED_ACTIONS:
            return None
        status = "4.0.0" if action == "delayed" else "5.0.0"
    if not recipient or status.startswith("2"):
        return None
    detail = diagnostic.partition(";")[2].strip() if ";" in diagnostic else diagnostic
    return Bounce(recipient, status, original, detail[:MAX_DIAGNOSTIC])


def _address(value: str) -> str:
    """``rfc822; ada@example.com`` is ``ada@example.com``."""
    address = value.rpartition(";")[2] if ";" in value else value
    return address.strip().strip("<>").strip()


def _status(text: str) -> str | None:
    match = _STATUS.search(text)
    return None if match is None else ".".join(match.groups())


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(unfolded(str(value)).split()) if value is not None else ""


def _raw_values(message: Message, name: str) -> list[str]:
    """Values as parsed, not as compat32's ``get`` hands them out (a ``Header`` object for
    8-bit ones)."""
    return [value for key, value in message.raw_items() if key.lower() == name]


def _parts(message: Message, content_type: str) -> Iterator[Message]:
    """Top-level parts of a report or bounce: what it returns is never nested deeper than one
    multipart level (a ``multipart/mixed`` around the report, in some MTAs)."""
    payload = message.get_payload()
    if not isinstance(payload, list):
        return
    for part in payload:
        if part.get_content_type() == content_type:
            yield part
        elif part.get_content_maintype() == "multipart":
            yield from _parts(part, content_type)


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, content_charset(str(part.get("content-type", ""))))
