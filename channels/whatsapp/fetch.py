"""A WhatsApp message's media, fetched while the item is processed with the account's
credentials (``channels/downloads.py``). Twilio answers 404 for a while after the webhook, until
the media is ready, so 404 is worth another try here; Twilio redirects to its storage, which
gets no credentials of ours. A shared contact comes as a vCard: it is kept as its file and
written into the message's text."""

from __future__ import annotations

import base64
import mimetypes
from urllib.parse import parse_qsl

from threadline.channels.downloads import TRANSIENT_STATUSES, Wanted, fetch_one, with_files
from threadline.channels.whatsapp.contacts import VCARD_TYPES, contact_lines
from threadline.channels.whatsapp.parser import with_text
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.normalized import Inbound, InboundAttachment

NOT_READY_YET = TRANSIENT_STATUSES | {404}


class WhatsAppFetch:
    def __init__(self, settings: WhatsAppSettings) -> None:
        self._limit = settings.max_media_bytes
        credentials = ":".join(settings.credentials()).encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode()

    def __call__(self, inbound: Inbound, raw: bytes, last_try: bool) -> Inbound:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        got = [
            fetch_one("Twilio", wanted, self._authorization, self._limit, NOT_READY_YET)
            for wanted in media(form)
        ]
        if not got:
            return inbound
        contacts = [
            line
            for item in got
            if isinstance(item, InboundAttachment) and item.content_type in VCARD_TYPES
            for line in contact_lines(item.content)
        ]
        return with_files(with_text(inbound, contacts), got, last_try)


def media(form: dict[str, str]) -> list[Wanted]:
    found = []
    for index in range(int(form.get("NumMedia") or 0)):
        url = form.get(f"MediaUrl{index}")
        if url:
            content_type = form.get(f"MediaContentType{index}") or "application/octet-stream"
            extension = mimetypes.guess_extension(content_type) or ""
            found.append(Wanted(f"media-{index + 1}{extension}", url, content_type))
    return found
