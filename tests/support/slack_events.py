"""What Slack's Events API sends the daemon: an event in its ``event_callback`` envelope, and a
request body signed with the real algorithm."""

from __future__ import annotations

import json
import time
from typing import Any

from slack_sdk.signature import SignatureVerifier

from tests.support.fake_slack import APP_ID, BOT_USER_ID, TEAM_ID


def signed_request(
    signing_secret: str, body: bytes | dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A request body and the headers Slack signs it with, for the daemon's Events endpoint."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=raw)
    assert signature is not None
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }
    return raw, headers


def event_envelope(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str = TEAM_ID,
    is_ext_shared_channel: bool = False,
) -> dict[str, Any]:
    """An Events API ``event_callback`` as Slack wraps ``event`` for the app installed in
    ``team_id``."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": is_ext_shared_channel,
    }
