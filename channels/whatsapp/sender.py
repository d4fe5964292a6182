"""Sending replies on WhatsApp through Twilio, within WhatsApp's rules.

WhatsApp delivers free text only within 24 hours of the client's last message. Outside that
window a reply goes as the configured approved template (``whatsapp.template_content_sid``, its
variables the ticket number and the start of the reply); without one, the row is parked at once
saying why, rather than "sent" into a silence. Twilio's 63016 (outside the window) takes the
same path. A 429 or 63018 (rate limited) is retried; any other refusal parks the row with
Twilio's error code.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException

from threadline.channels.whatsapp import CHANNEL
from threadline.channels.whatsapp.api import rest_client
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.models import ClientExternalId, Message
from threadline.core.models.base import now_utc
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
ACKNOWLEDGEMENT = "Thank you: we have your message, ticket #{ticket}. We answer here."
"""An acknowledgement's payload is the client's own message: this is what they are sent."""


class WhatsAppSender:
    def __init__(self, sessions: sessionmaker[Session], settings: WhatsAppSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._client = rest_client(settings)

    def send(self, item: OutboxView) -> SendResult:
        body = (
            ACKNOWLEDGEMENT.format(ticket=item.ticket_id)
            if item.kind == "acknowledgement"
            else str(item.payload.get("body", ""))
        )
        with self._sessions() as session:
            last = last_message_from(session, item.recipient)
        inside = last is not None and now_utc() - last < WINDOW
        try:
            if inside:
                return self._create(item, body=body)
            return self._template(item, body)
        except TwilioRestException as error:
            if error.code == OUTSIDE_WINDOW and inside:
                return self._template_or_refuse(item, body, error)
            raise _refusal(error) from None

    def _template_or_refuse(
        self, item: OutboxView, body: str, error: TwilioRestException
    ) -> SendResult:
        try:
            return self._template(item, body)
        except TwilioRestException as again:
            raise _refusal(again) from error

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

    def _create(self, item: OutboxView, **content: str) -> SendResult:
        settings = self._settings
        message = self._client.messages.create(
            to=f"whatsapp:{item.recipient}",
            from_=f"whatsapp:{settings.from_number}",
            status_callback=f"{settings.public_url}/twilio/status",
            **content,
        )
        return SendResult(message.sid, delivery_status=_status(message.status))


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


def _status(status: str | None) -> str:
    return status if status in ("queued", "sent", "delivered", "read") else "queued"


def _refusal(error: TwilioRestException) -> Exception:
    described = f"Twilio refused the message: {error.code} {error.msg}".strip()
    if error.status in RATE_LIMITED or error.code in RATE_LIMITED or error.status >= 500:
        return TransientSendError(described)
    return PermanentSendError(described)
