"""The WhatsApp channel as the daemon sees it: one descriptor.

Off unless ``[whatsapp] enabled``; the twilio SDK is imported only when a daemon with WhatsApp
enabled builds its parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from threadline.channels.descriptor import (
    Channel,
    ChannelContext,
    Handler,
    Route,
    section,
    switched_off,
)
from threadline.channels.whatsapp import CHANNEL, MEDIA_PATH
from threadline.channels.whatsapp.dedup import message_dedup_key
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.channel_traits import ChannelTraits
from threadline.core.normalized import Inbound
from threadline.core.parsers import Fetch
from threadline.core.senders import Sender


def _parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    from threadline.channels.whatsapp.parser import parse

    return parse(raw, meta)


def _sender(context: ChannelContext) -> Sender | None:
    from threadline.channels.whatsapp.media_links import media_links
    from threadline.channels.whatsapp.sender import WhatsAppSender
    from threadline.core.send_pace import SendPace

    settings = context.section(WhatsAppSettings)
    if not settings.enabled:
        return None
    pace = SendPace(context.sessions)
    return WhatsAppSender(context.sessions, settings, media_links(context), pace)


def _while_enabled(
    build: Callable[[ChannelContext], Handler],
) -> Callable[[ChannelContext], Handler]:
    """A route's handler, built only when the channel is on: the twilio SDK stays unimported
    by a daemon that does not use it."""

    def handler(context: ChannelContext) -> Handler:
        if not context.section(WhatsAppSettings).enabled:
            return switched_off("WhatsApp", "whatsapp")
        return build(context)

    return handler


def _media(context: ChannelContext) -> Handler:
    from threadline.channels.whatsapp.media_links import media_handler, media_links

    return media_handler(media_links(context), context.sessions)


def _messages(context: ChannelContext) -> Handler:
    from threadline.channels.whatsapp.webhook import messages_handler

    return messages_handler(context)


def _statuses(context: ChannelContext) -> Handler:
    from threadline.channels.whatsapp.webhook import status_handler

    return status_handler(context)


def _fetch(settings: BaseModel) -> Fetch | None:
    from threadline.channels.whatsapp.fetch import WhatsAppFetch

    whatsapp = section(settings, WhatsAppSettings)
    return WhatsAppFetch(whatsapp) if whatsapp.enabled else None


WHATSAPP = Channel(
    name=CHANNEL,
    parse=_parse,
    dedup_key=message_dedup_key,
    fetch=_fetch,
    parse_in_workers=False,
    sections={"whatsapp": WhatsAppSettings},
    sender=_sender,
    routes=(
        Route("POST", "/twilio/whatsapp", _while_enabled(_messages)),
        Route("POST", "/twilio/status", _while_enabled(_statuses)),
        Route("GET", MEDIA_PATH + "/{link}/{filename}", _while_enabled(_media)),
    ),
    traits=ChannelTraits(client_id_type="whatsapp", verifies_sender=True),
)
