"""A stand-in for Twilio's REST API and its media hosting, served by aiohttp on 127.0.0.1.

Twilio can't be reached from a test, so the real twilio SDK (its HTTP client pointed here by
``whatsapp.api_base_url``) and real media downloads talk HTTP to this server. Media behave as
Twilio's do: behind the account's Basic credentials (or an API key's), 404 until they are ready,
and a redirect to a storage URL that refuses a second credential. A message sent with media has
them fetched from their URLs before it is answered, as Twilio fetches them, through ``proxy``
(the public URL's prefix and where it really leads). It runs in a thread with its own event
loop, so a synchronous test and a daemon in a subprocess can both use it.

Messages sent are listed back as Twilio lists them: newest first, filtered by ``To``, ``From``
and ``DateSent``/``DateSent<``/``DateSent>`` (by the date alone, as Twilio documents them), a
page of ``PageSize`` at a time with a ``next_page_uri`` for the rest. A message counts as sent
when it is created (Twilio sets ``date_sent`` once it hands the message on).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from itertools import count
from typing import Any
from urllib.parse import urlencode

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


@dataclass
class _Message:
    sid: str
    to: str
    from_: str
    body: str
    num_media: int
    sent_at: datetime
    status: str = "queued"


class FakeTwilio:
    def __init__(self, api_key: bool = False) -> None:
        self.url = ""
        self.sent: list[dict[str, str]] = []
        """Each message's form, a repeated field (``MediaUrl``) joined by spaces, and its sid."""
        self.fetched: list[Fetched] = []
        self.proxy: tuple[str, str] | None = None
        self.refusals: list[tuple[int, int]] = []
        """(HTTP status, Twilio error code) answered to the next creates, in order."""
        self.listed: list[dict[str, str]] = []
        """The query of each request for the Messages list, answered or not."""
        self.list_refusals: list[tuple[int, int]] = []
        """(HTTP status, Twilio error code) answered to the next lists, in order."""
        self._retry_afters: list[int] = []
        self._messages: list[_Message] = []
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
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", self._list)
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

    def rate_limit_next(self, retry_after: int) -> None:
        """The next Messages request (a create or a list) answers 429 with this Retry-After."""
        with self._lock:
            self._retry_afters.append(retry_after)

    def set_status(self, sid: str, status: str) -> None:
        with self._lock:
            (message,) = [m for m in self._messages if m.sid == sid]
            message.status = status

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
        with self._lock:
            if self._retry_afters:
                return _rate_limited(self._retry_afters.pop(0))
        fetched = [await self._fetch(str(url)) for url in posted.getall("MediaUrl", [])]
        with self._lock:
            self.fetched += fetched
            if self.refusals:
                return _refused(*self.refusals.pop(0))
            sid = f"SMa{next(self._ids):031d}"
            self.sent.append({**form, "sid": sid})
            message = _Message(
                sid,
                form.get("To", ""),
                form.get("From", ""),
                form.get("Body", ""),
                len(fetched),
                datetime.now(UTC),
            )
            self._messages.append(message)
            self._lock.notify_all()
        return web.json_response(_record(request.match_info["account"], message), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        query, account = request.query, request.match_info["account"]
        with self._lock:
            self.listed.append(dict(query))
            if self._retry_afters:
                return _rate_limited(self._retry_afters.pop(0))
            if self.list_refusals:
                return _refused(*self.list_refusals.pop(0))
            found = [_record(account, m) for m in reversed(self._messages) if _wanted(m, query)]
        size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
        filters = {k: v for k, v in query.items() if k not in ("PageSize", "Page", "PageToken")}
        path = request.path

        def uri(number: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

        start = page * size
        chunk = found[start : start + size]
        more = start + size < len(found)
        return web.json_response(
            {
                "messages": chunk,
                "start": start,
                "end": start + max(len(chunk), 1) - 1,
                "page": page,
                "page_size": size,
                "uri": uri(page),
                "first_page_uri": uri(0),
                "next_page_uri": f"{uri(page + 1)}&PageToken=PA{start + size}" if more else None,
                "previous_page_uri": uri(page - 1) if page else None,
            }
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


def _wanted(message: _Message, query: Any) -> bool:
    """Whether the message passes the list's filters."""
    day = message.sent_at.date()
    dates = {
        "DateSent": lambda value: day == value,
        "DateSent<": lambda value: day <= value,
        "DateSent>": lambda value: day >= value,
    }
    return (
        query.get("To", message.to) == message.to
        and query.get("From", message.from_) == message.from_
        and all(
            test(date.fromisoformat(query[key][:10])) for key, test in dates.items() if key in query
        )
    )


def _record(account: str, message: _Message) -> dict[str, Any]:
    """A message as Twilio's API answers it."""
    stamp = format_datetime(message.sent_at)
    return {
        "sid": message.sid,
        "account_sid": account,
        "api_version": "2010-04-01",
        "to": message.to,
        "from": message.from_,
        "body": message.body,
        "status": message.status,
        "direction": "outbound-api",
        "num_media": str(message.num_media),
        "num_segments": "1",
        "date_created": stamp,
        "date_updated": stamp,
        "date_sent": stamp,
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{message.sid}.json",
    }


def _refused(status: int, code: int) -> web.Response:
    return web.json_response(
        {"code": code, "message": f"refused ({code})", "status": status}, status=status
    )


def _rate_limited(retry_after: int) -> web.Response:
    return web.json_response(
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


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
