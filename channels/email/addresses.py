"""Who sent a mail, to whom, and which reply token its recipient address carries."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from email.utils import getaddresses
from typing import Any

from threadline.channels.email.charsets import decode_words, unfolded
from threadline.core.external_ids import email_or_none
from threadline.core.normalized import SenderIdentity

Fields = Mapping[str, Sequence[str]]
"""A mail's header fields: lower-case name to its raw (compat32) values, in order."""

_TOKEN = re.compile(r"[+.](t[1-9][0-9]*(?:a[1-9][0-9]*)?-[a-z2-7]{16})$", re.IGNORECASE)
"""A reply token after ``+`` (or ``.``: some list servers drop ``+``) at the end of the local
part, as ``core.tokens`` writes it."""
_ATOM = r"[^\s<>,;:()\"@\\]+"
_ADDRESS_ITEM = re.compile(
    rf"""\s*(?:(?:"((?:[^"\\]|\\.)*)"|([^",<>;:()@\\]*?))\s*<({_ATOM}@{_ATOM})>|({_ATOM}@{_ATOM}))"""
    r"\s*(?:,|$)"
)
_ESCAPED = re.compile(r"\\(.)")
_SENDER_FIELDS = ("from", "sender", "reply-to", "return-path")
"""Where a sender's address is looked for, in order; then the envelope sender."""
_SHOWN_VALUE = 80


def addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """``(display name, address)`` of every usable address in the header values; group syntax,
    empty and address-less entries (``undisclosed-recipients:;``) are left out."""
    found = []
    for value in values:
        text = unfolded(value)
        pairs = _simple_list(text)
        for name, address in getaddresses([text]) if pairs is None else pairs:
            name, address = _repaired(name, address)
            if "@" in address and len(address.split()) == 1:
                found.append(((decode_words(name) if "=?" in name else name).strip(), address))
    return found


def _repaired(name: str, address: str) -> tuple[str, str]:
    """What mailers get wrong and a reader still understands: a name without angle brackets
    around the address (``Ada ada@example.com``), a trailing dot (``ada@example.com.``)."""
    address = address.strip().strip("<>")
    words = address.split()
    if len(words) > 1:
        at = [index for index, word in enumerate(words) if "@" in word]
        if len(at) == 1:
            address = words[at[0]].strip("<>")
            name = name or " ".join(words[: at[0]] + words[at[0] + 1 :]).strip('"')
    return name, address.rstrip(".")


def _simple_list(text: str) -> list[tuple[str, str]] | None:
    """The common forms (``a@x``, ``Ada <a@x>``, ``"Lovelace, Ada" <a@x>``, in a list) read
    with one regular expression: ``getaddresses`` reads a character at a time and costs ten
    times more. None for anything else (groups, comments, broken syntax): it goes there."""
    found = []
    position, end = 0, len(text)
    while position < end:
        match = _ADDRESS_ITEM.match(text, position)
        if match is None or match.end() == position:
            return None
        quoted, plain, bracketed, bare = match.groups()
        if bare is not None:
            found.append(("", bare))
        else:
            name = _ESCAPED.sub(r"\1", quoted) if quoted is not None else plain or ""
            found.append((name, bracketed))
        position = match.end()
    return found


def sender(fields: Fields, meta: Mapping[str, Any]) -> SenderIdentity | None:
    """The first usable address of From, Sender, Reply-To, Return-Path, then the envelope
    sender: one a client can be found or created for (``ada@localhost`` is none)."""
    for name in _SENDER_FIELDS:
        for display_name, address in addresses(fields.get(name, ())):
            if email_or_none(address) is not None:
                return SenderIdentity("email", address, display_name or None)
    envelope = envelope_sender(meta)
    if envelope is not None and email_or_none(envelope) is not None:
        return SenderIdentity("email", envelope)
    return None


def senders_tried(fields: Fields, meta: Mapping[str, Any]) -> str:
    """Where :func:`sender` looked and what it found there, for the parked item's error."""
    tried = []
    for name in _SENDER_FIELDS:
        values = fields.get(name)
        shown = repr(unfolded(values[0])[:_SHOWN_VALUE]) if values else "absent"
        tried.append(f"{name.title()} {shown}")
    envelope = meta.get("mail_from")
    tried.append(f"envelope sender {envelope!r}" if envelope else "envelope sender absent")
    return ", ".join(tried)


def envelope_sender(meta: Mapping[str, Any]) -> str | None:
    """``MAIL FROM``, as the SMTP listener records it (``""`` for the null sender)."""
    envelope = meta.get("mail_from")
    if isinstance(envelope, str) and "@" in envelope:
        return envelope.strip().strip("<>")
    return None


def envelope_recipients(meta: Mapping[str, Any]) -> list[str]:
    recipients = meta.get("rcpt_tos")
    if not isinstance(recipients, list | tuple):
        return []
    return [str(address).strip().strip("<>") for address in recipients if address]


def receiving_address(meta: Mapping[str, Any], to: Sequence[str]) -> str | None:
    """Where the mail arrived, for routing: the envelope recipient (the desk address it was
    really sent to, whatever the header says), else the IMAP mailbox, else the first To."""
    envelope = envelope_recipients(meta)
    if envelope:
        return without_token(envelope[0])
    mailbox = meta.get("mailbox")
    if isinstance(mailbox, str) and mailbox:
        return mailbox
    return without_token(to[0]) if to else None


def reply_token(candidates: Iterable[str]) -> str | None:
    """The token of the first address that carries one: give the envelope recipients first
    (where the mail really went), then the header's To, Cc and Delivered-To."""
    for address in candidates:
        match = _TOKEN.search(address.rpartition("@")[0])
        if match:
            return match[1].lower()
    return None


def without_token(address: str) -> str:
    """The address a reply token was added to: ``support+t12-…@example.com`` is
    ``support@example.com``, so routing sees the desk's own address."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return _TOKEN.sub("", local) + at + domain
