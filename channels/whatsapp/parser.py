"""A Twilio WhatsApp webhook, as stored at accept (its form body), into the normalized message;
a status callback into a delivery report (``Inbound.receipts``).

WhatsApp has no threads: a message continues the client's latest ticket (core's rule for
thread-less channels), unless it quotes one of ours or theirs (``OriginalRepliedMessageSid``),
which threads it to that message's ticket. A location is stored as readable text; media are
fetched afterwards (``channels/whatsapp/fetch.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from threadline.channels.whatsapp import CHANNEL, STATUS
from threadline.channels.whatsapp.errors import described
from threadline.core.normalized import Inbound, Receipt, SenderIdentity, ThreadHints
from threadline.core.outcome import Park

TITLE_LENGTH = 80


STATUSES = {
    "accepted": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}


def parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        if meta.get("kind") == STATUS:
            return _report(form)
        sid, sender = form["MessageSid"], form["From"]
    except (ValueError, KeyError) as error:
        raise Park(f"not a Twilio webhook: {error!r}") from None
    text = "\n".join(part for part in (form.get("Body", "").strip(), _location(form)) if part)
    quoted = form.get("OriginalRepliedMessageSid")
    return Inbound(
        channel=CHANNEL,
        sender=SenderIdentity("whatsapp", sender, display_name=form.get("ProfileName") or None),
        subject=_title(text),
        reply_text=text,
        full_text=text,
        hints=ThreadHints(own_id=sid, in_reply_to=(quoted,) if quoted else (), threadless=True),
        receiving_address=form.get("To"),
    )


def _report(form: Mapping[str, str]) -> Inbound:
    status = STATUSES.get(form["MessageStatus"])
    if status is None:
        raise Park(f"an unknown Twilio message status {form['MessageStatus']!r}")
    error = described(form.get("ErrorCode")) if status == "failed" else ""
    return Inbound(
        channel=CHANNEL,
        sender=SenderIdentity("whatsapp", form["To"]),
        receipts=(Receipt(form["MessageSid"], status, error),),
    )


def with_text(inbound: Inbound, lines: Sequence[str]) -> Inbound:
    """The message with ``lines`` (what its media said, a shared contact) added to its text;
    titled by them if it had no text of its own."""
    if not lines:
        return inbound
    text = "\n".join([inbound.reply_text, *lines]).strip()
    subject = inbound.subject if inbound.reply_text else _title(text)
    return replace(inbound, subject=subject, reply_text=text, full_text=text)


def _location(form: Mapping[str, str]) -> str:
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    if not (latitude and longitude):
        return ""
    place = ", ".join(part for part in (form.get("Label"), form.get("Address")) if part)
    where = f"https://maps.google.com/?q={latitude},{longitude}"
    return f"Location: {place + ' ' if place else ''}({latitude}, {longitude}) {where}"


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= TITLE_LENGTH:
        return first or "WhatsApp message"
    return first[: TITLE_LENGTH - 1].rstrip() + "…"
