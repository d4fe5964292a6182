"""Settings of the WhatsApp channel: the Twilio account, the sender number, and the public URL
Twilio calls us at."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

from threadline.core.config_types import Secret
from threadline.core.settings import Section

MEBIBYTE = 1024 * 1024


class WhatsAppSettings(Section):
    enabled: bool = False
    account_sid: str = Field(default="", validate_default=True)
    auth_token: Annotated[str, Secret()] = Field(default="", validate_default=True)
    """Twilio signs its webhooks with it; our calls use it too unless an API key is set."""
    api_key: str = ""
    """An API key (``SK...``) for our calls and media downloads, with ``api_secret``: it can
    be revoked on its own, without changing the auth token."""
    api_secret: Annotated[str, Secret()] = ""
    from_number: str = Field(default="", validate_default=True)
    """The WhatsApp sender, E.164 (``+14155238886``)."""
    public_url: str = Field(default="", validate_default=True)
    """Where Twilio reaches this daemon (``https://desk.example.com``), as Twilio signs it:
    behind a reverse proxy, the proxy's URL, whatever Host the request carries."""
    api_base_url: str = "https://api.twilio.com"
    template_content_sid: str = ""
    """An approved template (``HX...``) for replies after the client's 24-hour window."""
    max_media_bytes: int = Field(default=16 * MEBIBYTE, ge=1)
    send_media: bool = True
    """Files an agent attaches go to the client, fetched by Twilio through signed links of
    ours; false: the reply names them and sends its text only."""
    messages_per_second: float = Field(default=80.0, gt=0, le=1000)
    """The sender's throughput Twilio allows (80 by default for a WhatsApp sender): every
    daemon on the database together sends no faster."""
    media_link_minutes: int = Field(default=240, ge=1)
    """How long such a link works: Twilio fetches at once, but may hold a message queued
    for up to four hours."""

    @field_validator("account_sid", "auth_token", "from_number", "public_url")
    @classmethod
    def _needed_when_enabled(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("enabled") and not value:
            raise ValueError(f"WhatsApp needs whatsapp.{info.field_name} when it is enabled")
        return value

    @field_validator("public_url", "api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL, like https://desk.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_with_its_secret(self) -> WhatsAppSettings:
        if bool(self.api_key) != bool(self.api_secret):
            raise ValueError("whatsapp.api_key and whatsapp.api_secret go together: set both")
        return self

    def credentials(self) -> tuple[str, str]:
        """Who our REST calls and media downloads authenticate as."""
        if self.api_key:
            return self.api_key, self.api_secret
        return self.account_sid, self.auth_token
