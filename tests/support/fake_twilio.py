"""A stand-in for Twilio's REST API and its media hosting, served by aiohttp on 127.0.0.1.

Twilio can't be reached from a test, so the real twilio SDK (its HTTP client pointed here by
``whatsapp.api_base_url``) and real media downloads talk HTTP to this server. Media behave as
Twilio's do: behind the account's Basic credentials (or an API key's), 404 until they are ready,
and a redirect to a storage URL that refuses a second credential. A message sent with media has
them fetched from their URLs before it is answered, as Twilio fetches them, through ``proxy``
(the public URL's prefix and where it really leads). It runs in a thread with its own event
loop, so a synchronous test and a daemon in a subprocess can both use it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import Any

from aiohttp import ClientSession, web
from twilio.request_validator import RequestValidator

HOST = "127.0.0.1"
ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "twilio-test-auth-token"
API_KEY = "SK00000000000000000000000000000001"
API_SECRET = "twilio-test-api-secret"


@dataclass(frozen=True)
class Fetched:
    """A media URL of a sent message, as fetched."""

    url: str
    status: int
    content_type: str
    content: bytes


@dataclass
class _Media:
    content: bytes
    content_type: str
    not_found: int
    """404 answers left before the media is ready (-1: never)."""


class FakeTwilio:
    def __init__(self, api_key: bool = False) -> None:
        self.url = ""
        self.sent: list[dict[str, str]] = []
        """Each message's form, a repeated field (``MediaUrl``) joined by spaces, and its sid."""
        self.fetched: list[Fetched] = []
        self.proxy: tuple[str, str] | None = None
        self.refusals: list[tuple[int, int]] = []
        """(HTTP status, Twilio error code) answered to the next creates, in order."""
        self._credentials = (API_KEY, API_SECRET) if api_key else (ACCOUNT_SID, AUTH_TOKEN)
        self._media: dict[str, _Media] = {}
        self._downloads: Counter[str] = Counter()
        self._ids = count(1)
        self._lock = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        app.router.add_get("/media/{name}", self._media_url)
        app.router.add_get("/storage/{name}", self._storage)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, HOST, 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{HOST}:{port}"
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        assert self._thread is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def host_media(self, name: str, content: bytes, content_type: str, not_found: int = 0) -> str:
        """The ``MediaUrl`` of a media item that answers 404 ``not_found`` times first."""
        with self._lock:
            self._media[name] = _Media(content, content_type, not_found)
        return f"{self.url}/media/{name}"

    def downloads(self, name: str) -> int:
        with self._lock:
            return self._downloads[name]

    def wait_for_sent(self, n: int, timeout: float = 15.0) -> list[dict[str, str]]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.sent) >= n, timeout):
                raise AssertionError(f"{len(self.sent)} messages sent, not {n}: {self.sent}")
            return list(self.sent)

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(":".join(self._credentials).encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        posted = await request.post()
        form = {key: " ".join(str(value) for value in posted.getall(key)) for key in posted}
        fetched = [await self._fetch(str(url)) for url in posted.getall("MediaUrl", [])]
        with self._lock:
            self.fetched += fetched
            if self.refusals:
                status, code = self.refusals.pop(0)
                return web.json_response(
                    {"code": code, "message": f"refused ({code})", "status": status},
                    status=status,
                )
            sid = f"SMa{next(self._ids):031d}"
            self.sent.append({**form, "sid": sid})
            self._lock.notify_all()
        return web.json_response(
            {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")},
            status=201,
        )

    async def _fetch(self, url: str) -> Fetched:
        public, real = self.proxy or ("", "")
        target = real + url[len(public) :] if public and url.startswith(public) else url
        async with ClientSession() as session, session.get(target) as response:
            content = await response.read()
            return Fetched(url, response.status, response.content_type, content)

    async def _media_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        with self._lock:
            self._downloads[name] += 1
            media = self._media.get(name)
            if media is None or not self._authorized(request):
                return web.Response(status=404 if media is None else 401)
            if media.not_found:
                media.not_found -= media.not_found > 0
                return web.Response(status=404)
        raise web.HTTPFound(f"/storage/{name}?signature=s3cr3t")

    async def _storage(self, request: web.Request) -> web.Response:
        """Refuses a request that still carries our credentials, as signed storage URLs do."""
        if "Authorization" in request.headers:
            return web.Response(status=400, text="Only one auth mechanism allowed")
        with self._lock:
            media = self._media[request.match_info["name"]]
        return web.Response(body=media.content, content_type=media.content_type)


def signed_webhook(url: str, form: dict[str, str]) -> dict[str, str]:
    """The headers Twilio sends with ``form`` posted to ``url`` (the public URL it calls)."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def message_form(sid: str, sender: str, body: str, **fields: Any) -> dict[str, str]:
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{sender}",
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Ada Lovelace",
        "WaId": sender.lstrip("+"),
    }
    return {**form, **{key: str(value) for key, value in fields.items()}}
