"""Twilio's REST API as threadline calls it: the SDK's client, pointed at
``whatsapp.api_base_url`` (the SDK has no such option, so its HTTP client rewrites the host).

The SDK's exceptions carry no headers, so each HTTP client keeps its last response, where a
429's Retry-After is read; and as the dispatcher may send from several threads at once, each
thread has a client of its own (nor is a requests Session shared between threads).
"""

from __future__ import annotations

import threading
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from threadline.channels.whatsapp.settings import WhatsAppSettings

TWILIO_API = "https://api.twilio.com"
TIMEOUT_S = 15.0
TOO_MANY_REQUESTS = 429


class _BaseUrlClient(TwilioHttpClient):
    """Twilio's own where the base URL is Twilio's."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=TIMEOUT_S)
        self._base_url = base_url
        self.last_response: Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self._base_url + url[len(TWILIO_API) :]
        self.last_response = super().request(method, url, *args, **kwargs)
        return self.last_response


class RestClients:
    """A client per thread, made on its first call."""

    def __init__(self, settings: WhatsAppSettings) -> None:
        self._settings = settings
        self._local = threading.local()

    def client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            username, password = self._settings.credentials()
            self._local.http = _BaseUrlClient(self._settings.api_base_url)
            client = Client(
                username, password, self._settings.account_sid, http_client=self._local.http
            )
            self._local.client = client
        return client

    def rate_limited(self) -> bool:
        """Whether this thread's last answer from Twilio was a 429."""
        last = self._last_response()
        return last is not None and last.status_code == TOO_MANY_REQUESTS

    def retry_after(self) -> float | None:
        """Seconds the 429 this thread was last answered asked us to wait; None for any other
        answer, or a Retry-After that is not a number of seconds."""
        last = self._last_response()
        if last is None or last.status_code != TOO_MANY_REQUESTS:
            return None
        try:
            return max(float(last.headers.get("Retry-After")), 0.0)
        except (TypeError, ValueError):
            return None

    def _last_response(self) -> Response | None:
        http: _BaseUrlClient | None = getattr(self._local, "http", None)
        return http.last_response if http is not None else None
