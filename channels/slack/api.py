"""The Slack Web API as threadline calls it: one client per use, what each refusal means, and
the metadata our posts carry.

Calls run in worker threads (the dispatcher's, the processor's), so the synchronous client of
slack_sdk is used, with its retry of connection errors; a 429 is never slept on in a worker but
handed back with its Retry-After.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from threadline.channels.slack.settings import SlackSettings

TIMEOUT_S = 15
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
"""The token itself is refused: nothing works until an operator installs a new one."""
TARGET_REFUSED = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "msg_too_long",
        "no_text",
        "restricted_action",
        "thread_not_found",
        "invalid_arguments",
    }
)
"""Sending this row again cannot help."""
OUTBOX_EVENT = "threadline_outbox"
"""The message metadata event type of our posts; its payload's ``key`` is the outbox row's
idempotency key, by which a resumed row finds the post an earlier claim made."""


def web_client(settings: SlackSettings) -> WebClient:
    return WebClient(token=settings.bot_token, base_url=settings.api_base_url, timeout=TIMEOUT_S)


def error_code(error: SlackApiError) -> str:
    code = error.response.get("error") if error.response is not None else None
    return str(code or f"HTTP {error.response.status_code}")


def retry_after(error: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (HTTP 429), else None."""
    if error.response.status_code != 429 and error_code(error) != "ratelimited":
        return None
    value = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
    try:
        return max(float(value), 1.0)
    except (TypeError, ValueError):
        return 1.0


def outbox_metadata(key: str) -> dict[str, Any]:
    return {"event_type": OUTBOX_EVENT, "event_payload": {"key": key}}


def outbox_key(message: dict[str, Any]) -> str | None:
    """The idempotency key a message of ours carries; Slack hands the payload out only to a
    read with ``include_all_metadata``."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != OUTBOX_EVENT:
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return key if isinstance(key, str) else None
