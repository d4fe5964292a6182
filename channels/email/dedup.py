"""The dedup key of a mail at accept time, before any parsing beyond its header."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32

from core.intake import content_key, dedup_key

CHANNEL = "email"

_HEADERS = BytesHeaderParser(policy=compat32)


def mail_dedup_key(raw: bytes) -> str:
    """The Message-ID, so one mail reaching us twice (Cc'd to two of our addresses, fetched
    again after a UIDVALIDITY change, redelivered by an MTA) is stored once; the content's
    digest for mail without one."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    header = raw if end < 0 else raw[:end]
    message_id = _HEADERS.parsebytes(header, headersonly=True).get("Message-ID")
    text = str(message_id).strip() if message_id is not None else ""
    if not text or text == "<>":
        return content_key(raw)
    return dedup_key("mid:" + "".join(text.split()).strip("<>"))
