"""``pager``: a channel that exists only in the test suite, to show that a channel is one
descriptor and one line in the list of channels, with nothing else of the daemon touched.

Customers page from a phone number: a page is a JSON document posted to ``/pager/in``
(``{"id": "p1", "from": "+14155550100", "text": "...", "answers": "p0"}``). Replies go out
through its sender, which drops each as a JSON file into ``[pager] outbox_dir``, the way a
provider's API would take it, and answers the file's name as the provider's id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from threadline.channels.descriptor import Channel, ChannelContext, Handler, Route
from threadline.core.channel_traits import ChannelTraits
from threadline.core.intake import RawItem
from threadline.core.normalized import Inbound, SenderIdentity, ThreadHints
from threadline.core.outcome import Park
from threadline.core.senders import OutboxView, PermanentSendError, SendResult
from threadline.core.settings import Section

NAME = "pager"


class PagerSettings(Section):
    outbox_dir: str = ""
    """Where replies are dropped; empty: the channel sends nothing."""


def parse(raw: bytes, _meta: Mapping[str, Any]) -> Inbound:
    try:
        page = json.loads(raw)
        return Inbound(
            channel=NAME,
            sender=SenderIdentity("phone", page["from"]),
            reply_text=page["text"],
            full_text=page["text"],
            hints=ThreadHints(
                own_id=page["id"], in_reply_to=(page["answers"],) if "answers" in page else ()
            ),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise Park(f"not a page: {error!r}") from None


def dedup_key(raw: bytes) -> str:
    return str(json.loads(raw)["id"])


class PagerSender:
    def __init__(self, outbox: Path) -> None:
        self._outbox = outbox

    def send(self, item: OutboxView) -> SendResult:
        if not self._outbox.is_dir():
            raise PermanentSendError(f"no outbox directory {self._outbox}")
        provider_id = f"out-{item.id}"
        page = {"to": item.recipient, "text": item.payload.get("body", ""), "kind": item.kind}
        # Whole or not at all, as a provider takes a message: a reader never sees it half written.
        partial = self._outbox / f"{provider_id}.partial"
        partial.write_text(json.dumps(page))
        partial.replace(self._outbox / f"{provider_id}.json")
        return SendResult(provider_id)


def _sender(context: ChannelContext) -> PagerSender:
    return PagerSender(Path(context.section(PagerSettings).outbox_dir))


def _receive(context: ChannelContext) -> Handler:
    """Answers 200 only once the page is committed; a page without an id is refused."""

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            key = dedup_key(raw)
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="a page is a JSON document with an id")
        item = RawItem(NAME, key, raw, {"source": "pager"})
        accepted = await asyncio.to_thread(context.intake.accept, item)
        return web.json_response({"item": accepted.id, "duplicate": accepted.duplicate})

    return receive


PAGER = Channel(
    name=NAME,
    parse=parse,
    dedup_key=dedup_key,
    parse_in_workers=False,
    sections={"pager": PagerSettings},
    sender=_sender,
    routes=(Route("POST", "/pager/in", _receive),),
    traits=ChannelTraits(client_id_type="phone"),
)
