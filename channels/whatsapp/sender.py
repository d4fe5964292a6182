"""Sending replies on WhatsApp through Twilio, within WhatsApp's rules.

WhatsApp delivers free text only within 24 hours of the client's last message. Outside that
window a reply goes as the configured approved template (``whatsapp.template_content_sid``, its
variables the ticket number and the start of the reply); without one, the row is parked at once
saying why, rather than "sent" into a silence. Twilio's 63016 (outside the window) takes the
same path. A 429 or 63018 (rate limited) is retried, not before a 429's Retry-After; any other
refusal parks the row with Twilio's error code.

A WhatsApp message carries one file: a reply's text goes with its first file, and each further
file follows in a message of its own, Twilio fetching each from a signed link of ours
(``media_links.py``). The row records the first message, whose delivery is tracked; a further
file Twilio refuses is logged. A template carries no files.

A resumed row (an earlier claim may have sent it without the outcome being recorded) first lists
our messages to the client since the row was queued: one whose text is the text the row sends
now, that did not fail, and that no other row recorded, is the earlier send; it is recorded and
nothing goes again, nor the files after the first (logged: if that claim ended before them, they
stay unsent). A template, matched by no text, and a reply of files only cannot be found, and
may go twice. A list Twilio refuses is logged and the row sent; a rate-limited one waits.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import NamedTuple

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException

from threadline.channels.resumed import sent_since
from threadline.channels.whatsapp import CHANNEL
from threadline.channels.whatsapp.api import RestClients
from threadline.channels.whatsapp.media_links import MediaLinks
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.models import Attachment, ClientExternalId, Message, OutboxItem
from threadline.core.models.base import now_utc
from threadline.core.send_pace import SendPace
from threadline.core.senders import (
    OutboxView,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = 63016
RATE_LIMITED = (429, 63018)
TEMPLATE_TEXT = 100
"""Characters of the reply a template carries."""
NOT_SENT = ("failed", "undelivered", "canceled")
"""Statuses of a message that reached no one: a resumed row sends again rather than take it."""
LOOKUP_LIMIT = 50
"""Our latest messages to the client a resumed row reads; an earlier send further back is not
found, and goes again."""
_log = structlog.get_logger(__name__)


class File(NamedTuple):
    id: int
    filename: str


class WhatsAppSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: WhatsAppSettings,
        links: MediaLinks,
        pace: SendPace,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._links = links
        self._clients = RestClients(settings)
        self._pace = pace

    def send(self, item: OutboxView) -> SendResult:
        with self._sessions() as session:
            last = last_message_from(session, item.recipient)
            files = reply_files(session, item)
        body = str(item.payload.get("body", ""))
        if files and not self._settings.send_media:
            names = ", ".join(file.filename for file in files)
            body, files = f"{body}\n\n(Files not sent on WhatsApp: {names})".strip(), []
        inside = last is not None and now_utc() - last < WINDOW
        try:
            earlier = self._earlier_message(item, body) if item.resumed else None
            if earlier is not None:
                if files[1:]:
                    names = [file.filename for file in files[1:]]
                    _log.warning("whatsapp files not sent again", outbox_id=item.id, files=names)
                return earlier
            settings = self._settings
            self._pace.wait(f"whatsapp:{settings.from_number}", 1 / settings.messages_per_second)
            if not inside:
                return self._template(item, body)
            first = self._create(item, body=body, media=files[:1])
        except TwilioRestException as error:
            if error.code == OUTSIDE_WINDOW and inside:
                return self._template_or_refuse(item, body, error)
            raise self._refusal(error) from None
        for file in files[1:]:
            self._further_file(item, file)
        return first

    def _earlier_message(self, item: OutboxView, body: str) -> SendResult | None:
        """The free-text message an earlier claim of the row sent; None when there is none,
        no text to know it by, or Twilio refuses the list."""
        if not body:
            return None
        try:
            listed = self._clients.client().messages.list(
                to=f"whatsapp:{item.recipient}",
                from_=f"whatsapp:{self._settings.from_number}",
                date_sent_after=sent_since(item),
                limit=LOOKUP_LIMIT,
            )
        except TwilioException as error:
            if self._clients.rate_limited():
                raise TransientSendError(
                    "Twilio is rate limiting us", retry_after=self._clients.retry_after()
                ) from None
            _log.warning(
                "twilio refused the list of earlier messages; sending",
                outbox_id=item.id,
                error=str(error),
            )
            return None
        same = [m for m in listed if m.body == body and m.status not in NOT_SENT]
        others = self._recorded_elsewhere(item, [message.sid for message in same])
        for message in same:
            if message.sid not in others:
                return SendResult(message.sid, delivery_status=_status(message.status))
        return None

    def _recorded_elsewhere(self, item: OutboxView, sids: list[str]) -> set[str]:
        """Which of these messages other rows recorded: the same text sent twice is two."""
        if not sids:
            return set()
        with self._sessions() as session:
            recorded = session.scalars(
                select(OutboxItem.provider_id).where(
                    OutboxItem.channel == CHANNEL,
                    OutboxItem.provider_id.in_(sids),
                    OutboxItem.id != item.id,
                )
            )
            return {sid for sid in recorded if sid}

    def _further_file(self, item: OutboxView, file: File) -> None:
        try:
            self._create(item, media=[file])
        except (TwilioRestException, OSError) as error:
            # The text has gone: a retry of the row would send it twice.
            _log.warning(
                "whatsapp file not sent", outbox_id=item.id, file=file.filename, error=str(error)
            )

    def _template_or_refuse(
        self, item: OutboxView, body: str, error: TwilioRestException
    ) -> SendResult:
        try:
            return self._template(item, body)
        except TwilioRestException as again:
            raise self._refusal(again) from error

    def _template(self, item: OutboxView, body: str) -> SendResult:
        if not self._settings.template_content_sid:
            raise PermanentSendError(
                "the client's 24-hour WhatsApp window is closed and whatsapp."
                "template_content_sid is not set: the reply was not sent"
            )
        variables = {"1": str(item.ticket_id or ""), "2": body[:TEMPLATE_TEXT]}
        return self._create(
            item,
            content_sid=self._settings.template_content_sid,
            content_variables=json.dumps(variables),
        )

    def _create(
        self, item: OutboxView, media: list[File] | None = None, **content: str
    ) -> SendResult:
        settings = self._settings
        urls = [self._links.url(file.id, file.filename) for file in media or []]
        message = self._clients.client().messages.create(
            to=f"whatsapp:{item.recipient}",
            from_=f"whatsapp:{settings.from_number}",
            status_callback=f"{settings.public_url}/twilio/status",
            media_url=urls or values.unset,
            **content,
        )
        return SendResult(message.sid, delivery_status=_status(message.status))

    def _refusal(self, error: TwilioRestException) -> Exception:
        described = f"Twilio refused the message: {error.code} {error.msg}".strip()
        if error.status in RATE_LIMITED or error.code in RATE_LIMITED or error.status >= 500:
            return TransientSendError(described, retry_after=self._clients.retry_after())
        return PermanentSendError(described)


def last_message_from(session: Session, number: str) -> datetime | None:
    """When the client with this WhatsApp number last wrote on WhatsApp: their window opens."""
    clients = select(ClientExternalId.client_id).where(
        ClientExternalId.type.in_(("whatsapp", "phone")), ClientExternalId.value == number
    )
    return session.scalar(
        select(func.max(Message.created_at)).where(
            Message.client_id.in_(clients), Message.channel == CHANNEL
        )
    )


def reply_files(session: Session, item: OutboxView) -> list[File]:
    """The files of the agent's message a reply carries; other rows carry none."""
    if item.kind != "reply" or item.message_id is None:
        return []
    rows = session.execute(
        select(Attachment.id, Attachment.filename)
        .where(Attachment.message_id == item.message_id, Attachment.quarantined.is_(None))
        .order_by(Attachment.id)
    )
    return [File(*row) for row in rows]


def _status(status: str | None) -> str:
    return status if status in ("queued", "sent", "delivered", "read") else "queued"
