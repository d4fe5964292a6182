"""What a Slack event only names, fetched while the item is processed (never while Slack
waits for the webhook's answer): the writer's name (``users.info``, kept for the process's
life) and the message's files (``url_private`` with the bot token, ``channels/downloads.py``:
retried, else named on the message).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from threadline.channels.downloads import Missing, Wanted, fetch_one, with_files
from threadline.channels.slack.api import error_code, retry_after, web_client
from threadline.channels.slack.places import written
from threadline.channels.slack.settings import SlackSettings
from threadline.core.normalized import Inbound, InboundAttachment

NAMES_KEPT = 10_000


class SlackFetch:
    def __init__(self, settings: SlackSettings) -> None:
        self._settings = settings
        self._client = web_client(settings)
        self._names: dict[str, str | None] = {}

    def __call__(self, inbound: Inbound, raw: bytes, last_try: bool) -> Inbound:
        if inbound.internal:
            return inbound
        message = written(json.loads(raw)["event"]) or {}
        user = inbound.sender.value.rpartition(":")[2]
        sender = replace(inbound.sender, display_name=self._name(user))
        got = [self._file(file) for file in message.get("files", ())]
        return with_files(inbound, got, last_try, sender=sender)

    def _name(self, user: str) -> str | None:
        """None when Slack does not tell: the client is then named by their id."""
        if user not in self._names:
            try:
                profile = self._client.users_info(user=user)["user"]
            except (SlackApiError, OSError, KeyError):
                return None
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            self._names[user] = (
                profile.get("real_name") or profile.get("profile", {}).get("real_name") or None
            )
        return self._names[user]

    def _file(self, file: dict[str, Any]) -> InboundAttachment | Missing:
        if file.get("file_access") == "check_file_info":
            # Slack Connect hands out a stub; the file itself is asked for separately.
            try:
                file = self._client.files_info(file=file["id"])["file"]
            except SlackApiError as error:
                reason = f"Slack answered {error_code(error)}"
                return Missing(str(file.get("id")), reason, retry_after(error) is not None)
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        url = file.get("url_private_download") or file.get("url_private")
        if file.get("mode") in ("tombstone", "hidden_by_limit") or not url:
            return Missing(name, "Slack offers no copy of it", for_now=False)
        limit = self._settings.max_file_bytes
        if int(file.get("size") or 0) > limit:
            return Missing(name, f"over slack.max_file_bytes ({limit} bytes)", for_now=False)
        mimetype = str(file.get("mimetype") or "application/octet-stream")
        wanted = Wanted(name, url, mimetype)
        return fetch_one("Slack", wanted, f"Bearer {self._settings.bot_token}", limit)
