"""The dedup key of a mail at accept time, before any parsing beyond its header.

A mail is keyed on its Message-ID plus a digest of From, Date and Subject: what every
re-delivery of one mail keeps (an SMTP retry, an IMAP fetch after a UIDVALIDITY change, the same
mail fetched from two mailboxes, each with Received and Delivered-To lines of its own), and what
differs between the different mails some mailers and devices send under one reused Message-ID.
"""

from __future__ import annotations

import hashlib

from threadline.core.dedup import content_key, dedup_key

_KEYED = (b"message-id", b"from", b"date", b"subject")
_FINGERPRINTED = (b"from", b"date", b"subject")
_FINGERPRINT_CHARS = 16


def mail_dedup_key(raw: bytes) -> str:
    """``mid:<Message-ID>|<digest>``; the content's digest for a mail without a Message-ID."""
    return delivery_id(raw) or content_key(raw)


def delivery_id(raw: bytes) -> str | None:
    """What tells this mail from another under the same Message-ID (its dedup key); None for a
    mail without one, whose own id is made from its bytes and so is unique already."""
    fields = _fields(raw)
    message_id = _message_id(fields)
    return dedup_key(f"mid:{message_id}|{_fingerprint(fields)}") if message_id else None


def _fields(raw: bytes) -> dict[bytes, bytes]:
    """The first value of each keyed field in the header (everything up to the first blank
    line), folded lines included: found with ``bytes.find``, not a header parse or a regular
    expression, because accept must stay fast (an email parser would spend 60 µs on a typical
    mail's header, a pattern for four names 20 µs)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    header = raw if end < 0 else raw[: end + 1]
    if header.startswith((b"\r\n", b"\n")):
        return {}
    lowered = b"\n" + header.lower()
    fields: dict[bytes, bytes] = {}
    for name in _KEYED:
        needle = b"\n" + name
        at = lowered.find(needle)
        while at >= 0:
            colon = at + len(needle)
            while lowered[colon : colon + 1] in (b" ", b"\t"):
                colon += 1
            if lowered[colon : colon + 1] == b":":
                fields[name] = _value(header, colon)
                break
            at = lowered.find(needle, at + 1)
    return fields


def _value(header: bytes, start: int) -> bytes:
    """From ``start`` to the end of the field: its line and the folded lines after it."""
    end = header.find(b"\n", start)
    while end >= 0 and header[end + 1 : end + 2] in (b" ", b"\t"):
        end = header.find(b"\n", end + 1)
    return header[start:] if end < 0 else header[start:end]


def _message_id(fields: dict[bytes, bytes]) -> str:
    value = fields.get(b"message-id", b"")
    return b"".join(value.split()).decode("ascii", "replace").strip("<>")


def _fingerprint(fields: dict[bytes, bytes]) -> str:
    """Whitespace collapsed, since a relay may fold a long Subject anew."""
    digest = hashlib.sha256()
    for name in _FINGERPRINTED:
        digest.update(b" ".join(fields.get(name, b"").split()) + b"\n")
    return digest.hexdigest()[:_FINGERPRINT_CHARS]
