"""The email channel's parser: a mail's raw bytes to the normalized message core reads.

stdlib ``email`` with the compat32 policy: several times faster than the modern policies, and
it never raises on broken MIME; what it leaves raw (8-bit headers, unknown charsets) the
``charsets`` module decodes. A mail nothing can read is still kept (``unreadable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.errors import MissingHeaderBodySeparatorDefect
from email.message import Message
from email.policy import compat32
from typing import Any

import structlog

from threadline.channels.email import CHANNEL, addresses, bounces, thread_ids
from threadline.channels.email.body import read_body
from threadline.channels.email.broken_header import repaired
from threadline.channels.email.charsets import header_text
from threadline.channels.email.classify import classify
from threadline.channels.email.dedup import delivery_id
from threadline.channels.email.feed_parser import FeedParser
from threadline.channels.email.html_body import parse_html, tree_text
from threadline.channels.email.priority import priority
from threadline.channels.email.reply_text import reply_text
from threadline.channels.email.unreadable import unreadable
from threadline.core.normalized import Classification, Inbound, SenderIdentity, ThreadHints
from threadline.core.outcome import Park

FEED_CHUNK = 64 * 1024
"""Bytes decoded and fed to the parser at a time. ``BytesParser.parsebytes`` decodes the whole
mail first and feeds it through StringIO buffers that hold up to 4 bytes a character: for a
mail of 34 MB (a 25 MB attachment) about 265 MB at once, against about 95 MB fed in slices."""
_log = structlog.get_logger(__name__)


def parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    """Never raises but :class:`Park`, for a mail with no sender anywhere."""
    try:
        message = _message(raw)
        if _header_cut_short(message):
            fixed = repaired(raw)
            message = message if fixed is raw else _message(fixed)
        if not message.keys():
            return unreadable(CHANNEL, raw, meta)
        return _inbound(message, raw, meta)
    except Park:
        raise
    except Exception:
        # Whatever the mail did to the parser, it is kept: as it arrived, for an agent to read.
        _log.warning("unreadable mail, kept as an attachment", exc_info=True)
        return unreadable(CHANNEL, raw, meta)


def _header_cut_short(message: Message) -> bool:
    """The parser met a line that is neither a field nor a continuation and read the rest as
    body: the one case ``broken_header`` may mend, checked after the parse so that a sound
    mail pays nothing."""
    return any(isinstance(defect, MissingHeaderBodySeparatorDefect) for defect in message.defects)


def _message(raw: bytes) -> Message:
    """What ``BytesParser(policy=compat32).parsebytes`` answers, fed a slice at a time as its
    own ``Parser.parse`` does (the ASCII/surrogateescape decoding is byte by byte, so a slice
    may end anywhere)."""
    feeder = FeedParser(policy=compat32)
    for start in range(0, len(raw), FEED_CHUNK):
        feeder.feed(raw[start : start + FEED_CHUNK].decode("ascii", "surrogateescape"))
    return feeder.close()


def _inbound(message: Message, raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    fields: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        fields.setdefault(name.lower(), []).append(value)
    is_report = bounces.is_delivery_report(message)
    sender = addresses.sender(fields, meta) or _reporter(message, is_report)
    if sender is None:
        raise Park(
            "mail without a usable sender address, nobody to open a ticket for (tried "
            f"{addresses.senders_tried(fields, meta)}); it is kept as it came "
            "(`threadline inbound show ID`)"
        )
    subject = header_text(fields["subject"][0]) if "subject" in fields else ""
    body = read_body(message)
    full_text, tree = body.plain, None
    if not full_text.strip() and body.html:
        tree = parse_html(body.html)
        full_text = tree_text(tree) if tree is not None else ""
    classification = classify(fields, subject, sender.value, meta, is_report)
    found_bounces = bounces.bounces(message) if is_report else ()
    own_id = thread_ids.own_id(fields.get("message-id", ()), raw)
    in_reply_to = thread_ids.message_ids(fields.get("in-reply-to", ()))
    if classification is Classification.BOUNCE:
        original = (
            next((b.original_id for b in found_bounces if b.original_id), None)
            or bounces.returned_message_id(message)
            or bounces.quoted_message_id(full_text)
        )
        if original and original != own_id and original not in in_reply_to:
            in_reply_to = (original, *in_reply_to)
    references = thread_ids.references(fields.get("references", ()))
    envelope = addresses.envelope_recipients(meta)
    to = [address for _name, address in addresses.addresses(fields.get("to", ()))]
    cc = [address for _name, address in addresses.addresses(fields.get("cc", ()))]
    delivered_to = [a for _name, a in addresses.addresses(fields.get("delivered-to", ()))]
    return Inbound(
        channel=CHANNEL,
        sender=sender,
        subject=subject,
        reply_text=reply_text(full_text, body.html, tree),
        full_text=full_text,
        html=body.html,
        recipients=tuple(to + cc),
        attachments=body.attachments,
        hints=ThreadHints(
            own_id=own_id,
            delivery_id=delivery_id(raw),
            in_reply_to=in_reply_to,
            references=references,
            referenced_tokens=thread_ids.our_tokens((*in_reply_to, *reversed(references))),
            reply_token=addresses.reply_token([*envelope, *to, *cc, *delivered_to]),
            subject_tag=thread_ids.subject_tag(subject),
            answers_notice=thread_ids.answers_notice(in_reply_to),
        ),
        classification=classification,
        sent_at=thread_ids.sent_at(fields.get("date", ())),
        receiving_address=addresses.receiving_address(meta, to),
        bounces=found_bounces,
        priority=priority(fields),
    )


def _reporter(message: Message, is_report: bool) -> SenderIdentity | None:
    """Some MTAs send reports from the null address alone (``From: MAILER DAEMON <>``): the
    report still names the host that wrote it."""
    host = bounces.reporting_mta(message) if is_report else None
    return (
        SenderIdentity("email", f"mailer-daemon@{host}", "Mail Delivery System") if host else None
    )
