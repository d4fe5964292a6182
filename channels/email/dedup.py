"""The dedup key of a mail at accept time, before any parsing beyond its header."""

from __future__ import annotations

import re

from threadline.core.dedup import content_key, dedup_key

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)
"""The first Message-ID field with its folded lines: a scan, not a header parse, because
accept must stay fast (an email parser would spend 60 µs on a typical mail's header)."""


def mail_dedup_key(raw: bytes) -> str:
    """The Message-ID, so one mail reaching us twice (Cc'd to two of our addresses, fetched
    again after a UIDVALIDITY change, redelivered by an MTA) is stored once; the content's
    digest for mail without one."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    header = raw if end < 0 else raw[: end + 1]
    if header.startswith((b"\r\n", b"\n")):
        header = b""
    found = _MESSAGE_ID.search(header)
    text = b"".join(found[1].split()).decode("ascii", "replace") if found else ""
    text = text.strip("<>")
    if not text:
        return content_key(raw)
    return dedup_key("mid:" + text)
