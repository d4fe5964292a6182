"""The messages in the fake Slack's conversations, as Slack's history methods hand them out.

``conversations.history`` answers a conversation's top-level messages newest first,
``conversations.replies`` a thread's parent and then its replies oldest first; both only after
``oldest`` (exclusive), a page of ``limit`` at a time with a ``next_cursor`` for the rest. A
message's metadata comes whole only with ``include_all_metadata``, else without its payload.
Message ts values are the time of posting, as Slack's are, and never repeat.
"""

from __future__ import annotations

import json
import time
from typing import Any

Params = dict[str, Any]
Answer = dict[str, Any]
DEFAULT_LIMIT = 100
USER_IDS = ("U", "W")


class Conversations:
    def __init__(self) -> None:
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._last_us = 0

    def add(self, channel: str, message: dict[str, Any], metadata: Any = None) -> dict[str, Any]:
        """Stores ``message`` under a new ts (and ``metadata``, a dict or its JSON, if any);
        the message as Slack answers its post."""
        self._last_us = max(self._last_us + 100, time.time_ns() // 1000)
        stored = {**message, "ts": f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"}
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            stored["metadata"] = metadata
        self._messages.setdefault(channel, []).append(stored)
        return stored

    def history(self, params: Params) -> Answer:
        channel = params.get("channel", "")
        if not channel or channel.startswith(USER_IDS):
            return {"ok": False, "error": "channel_not_found"}
        messages = [
            m
            for m in reversed(self._messages.get(channel, []))
            if m.get("thread_ts", m["ts"]) == m["ts"] and _after(m, params)
        ]
        return _page(messages, params)

    def replies(self, params: Params) -> Answer:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        thread = [m for m in self._messages.get(channel, []) if m.get("thread_ts", m["ts"]) == ts]
        parent = [m for m in thread if m["ts"] == ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for m in thread if m["ts"] != ts and _after(m, params)]
        return _page(parent + replies, params)


def _after(message: dict[str, Any], params: Params) -> bool:
    return float(message["ts"]) > float(params.get("oldest") or 0)


def _page(messages: list[dict[str, Any]], params: Params) -> Answer:
    start = int(params.get("cursor") or 0)
    end = start + int(params.get("limit") or DEFAULT_LIMIT)
    whole = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
    page = [m if whole or "metadata" not in m else _without_payload(m) for m in messages[start:end]]
    more = end < len(messages)
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(end) if more else ""},
    }


def _without_payload(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "metadata": {"event_type": message["metadata"]["event_type"]}}
