"""Settings of the Slack channel: the app's credentials and where customers and agents write."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from threadline.core.config_types import Secret
from threadline.core.settings import Section

MEBIBYTE = 1024 * 1024
_CONVERSATION = re.compile(r"[CG][A-Z0-9]{2,}")


class SlackSettings(Section):
    enabled: bool = False
    signing_secret: Annotated[str, Secret()] = Field(default="", validate_default=True)
    """The app's signing secret: every request to ``/slack/events`` is checked against it."""
    bot_token: Annotated[str, Secret()] = Field(default="", validate_default=True)
    """The app's bot token (``xoxb-``)."""
    api_base_url: str = "https://slack.com/api/"
    support_channels: tuple[str, ...] = ()
    """Channel ids (``C0123ABCD``) where every member's message is a customer's."""
    agents_channel: str = ""
    """A channel id where every ticket gets a thread; empty: no such feed."""
    new_ticket_per_top_level_message: bool = True
    """A message outside any thread opens a ticket; false: it continues the writer's latest
    ticket that is not closed."""
    posts_per_second: float = Field(default=1.0, gt=0, le=100)
    """Per conversation, for every daemon on the database together: Slack takes about one
    message a second in a channel (short bursts aside) and answers more with 429."""
    max_file_bytes: int = Field(default=20 * MEBIBYTE, ge=1)
    """Larger files of a message are not fetched; the message says so."""

    @field_validator("signing_secret", "bot_token")
    @classmethod
    def _needed_when_enabled(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("enabled") and not value:
            raise ValueError(
                f"Slack needs slack.{info.field_name} when slack.enabled is true (set it, or "
                f"slack.{info.field_name}_file, or THREADLINE_SLACK__{info.field_name.upper()})"
            )
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL, like https://slack.com/api/")
        return value if value.endswith("/") else f"{value}/"

    @field_validator("support_channels")
    @classmethod
    def _channel_ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            _channel_id(value)
        return values

    @field_validator("agents_channel")
    @classmethod
    def _agents_channel(cls, value: str) -> str:
        return _channel_id(value) if value else value


def _channel_id(value: str) -> str:
    if not _CONVERSATION.fullmatch(value):
        raise ValueError(
            f"{value!r} is no channel id; use the id Slack shows under the channel's name "
            "(C0123ABCD), not its name"
        )
    return value
