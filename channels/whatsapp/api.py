"""Twilio's REST API as threadline calls it: the SDK's client, pointed at
``whatsapp.api_base_url`` (the SDK has no such option, so its HTTP client rewrites the host)."""

from __future__ import annotations

from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from threadline.channels.whatsapp.settings import WhatsAppSettings

TWILIO_API = "https://api.twilio.com"
TIMEOUT_S = 15.0


class _BaseUrlClient(TwilioHttpClient):
    """Twilio's own where the base URL is Twilio's."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=TIMEOUT_S)
        self._base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self._base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def rest_client(settings: WhatsAppSettings) -> Client:
    username, password = settings.credentials()
    http_client = _BaseUrlClient(settings.api_base_url)
    return Client(username, password, settings.account_sid, http_client=http_client)
