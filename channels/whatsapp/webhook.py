"""Twilio's webhooks: ``POST /twilio/whatsapp`` (a message from a client) and
``POST /twilio/status`` (where one of ours got to).

The ``X-Twilio-Signature`` is checked with twilio's ``RequestValidator`` against the configured
``whatsapp.public_url`` and the request's path, not the Host the request carries (a reverse proxy
or a load balancer rewrites that): invalid or missing, 403 and nothing stored. A valid request
is committed to the intake queue and only then answered. A message is keyed by its
``MessageSid``, a status report by the sid and the status, so Twilio's retries are stored once.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from threadline.channels.descriptor import ChannelContext, Handler
from threadline.channels.group_commit import GroupCommit
from threadline.channels.whatsapp import CHANNEL, MESSAGE, STATUS
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.intake import RawItem

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_log = structlog.get_logger(__name__)

Keyed = Callable[[MultiDictProxy[str | object]], str | None]


def messages_handler(context: ChannelContext) -> Handler:
    return _handler(context, MESSAGE, lambda form: _text(form, "MessageSid"))


def status_handler(context: ChannelContext) -> Handler:
    def key(form: MultiDictProxy[str | object]) -> str | None:
        sid, status = _text(form, "MessageSid"), _text(form, "MessageStatus")
        return f"{sid}:{status}" if sid and status else None

    return _handler(context, STATUS, key)


def _handler(context: ChannelContext, kind: str, key_of: Keyed) -> Handler:
    settings = context.section(WhatsAppSettings)
    validator = RequestValidator(settings.auth_token)
    intake = GroupCommit(context.intake)

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        form = await request.post()
        url = settings.public_url + request.path_qs
        if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403, text="invalid Twilio signature\n")
        key = key_of(form)
        if key is None:
            return web.Response(status=400, text=f"a {kind} webhook without its MessageSid\n")
        try:
            await intake.accept(RawItem(CHANNEL, key, raw, {"kind": kind}))
        except Exception as error:
            # Twilio retries a 5xx: the request is not lost, only late.
            _log.error("twilio webhook not accepted", key=key, error=repr(error))
            return web.Response(status=500)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    return receive


def _text(form: MultiDictProxy[str | object], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None
