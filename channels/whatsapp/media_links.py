"""The links Twilio fetches a reply's files from, and the route that serves them.

Twilio sends media only by URL, so a file an agent attached is served by the daemon itself at
``/twilio/media/<link>/<filename>``. The link names the attachment and when it expires, signed
with the desk's token secret: an attachment cannot be had by guessing its number, nor with a
link after it has served its send (Twilio fetches at once; it may keep a message queued for up
to four hours, hence the default lifetime). A forged or expired link is 403.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.descriptor import ChannelContext, Handler
from threadline.channels.whatsapp import MEDIA_PATH
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.models import Attachment, Blob
from threadline.core.tokens import TokenSigner

_PAYLOAD = re.compile(r"^m(?P<attachment>[1-9][0-9]*)e(?P<expires>[0-9]+)$")


class MediaLinks:
    def __init__(
        self,
        signer: TokenSigner,
        public_url: str,
        lifetime: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._public_url = public_url
        self._lifetime = lifetime
        self._clock = clock

    def url(self, attachment_id: int, filename: str) -> str:
        expires = int(self._clock() + self._lifetime.total_seconds())
        link = self._signer.seal(f"m{attachment_id}e{expires}")
        return f"{self._public_url}{MEDIA_PATH}/{link}/{quote(filename or 'file', safe='')}"

    def attachment_id(self, link: str) -> int | None:
        """The attachment a link names; None when it was forged or has expired."""
        payload = self._signer.unseal(link)
        match = _PAYLOAD.match(payload or "")
        if match is None or int(match["expires"]) < self._clock():
            return None
        return int(match["attachment"])


def media_links(context: ChannelContext) -> MediaLinks:
    settings = context.section(WhatsAppSettings)
    return MediaLinks(
        context.signer, settings.public_url, timedelta(minutes=settings.media_link_minutes)
    )


def media_handler(links: MediaLinks, sessions: sessionmaker[Session]) -> Handler:
    async def serve(request: web.Request) -> web.Response:
        attachment_id = links.attachment_id(request.match_info["link"])
        if attachment_id is None:
            return web.Response(status=403, text="a forged or expired media link\n")
        found = await asyncio.to_thread(_file, sessions, attachment_id)
        if found is None:
            return web.Response(status=404, text="no such file\n")
        content_type, content = found
        return web.Response(body=content, headers={"Content-Type": content_type})

    return serve


def _file(sessions: sessionmaker[Session], attachment_id: int) -> tuple[str, bytes] | None:
    with sessions() as session:
        row = session.execute(
            select(Attachment.content_type, Blob.content)
            .join(Blob, Blob.sha256 == Attachment.sha256)
            .where(Attachment.id == attachment_id, Attachment.quarantined.is_(None))
        ).first()
    return (row[0] or "application/octet-stream", row[1]) if row else None
