"""What a Slack event only names, fetched while the item is processed (never while Slack
waits for the webhook's answer): the writer's name (``users.info``, kept for the process's
life) and the message's files (``url_private`` with the bot token).

A file is fetched whole up to ``slack.max_file_bytes``, tried a few times on what may pass (a
5xx, a 429, a timeout). One that cannot be had yet fails the item, which is retried later; on
the item's last try, or when it can never be had (too large, deleted, a scope missing), the
message is stored without it and says so: nothing is held back for good, and a file is never
silently missing.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError

from threadline.channels.slack.api import error_code, retry_after, web_client
from threadline.channels.slack.places import written
from threadline.channels.slack.settings import SlackSettings
from threadline.core.backoff import Backoff
from threadline.core.normalized import Inbound, InboundAttachment

TRIES = 3
TIMEOUT_S = 30
NAMES_KEPT = 10_000
_BACKOFF = Backoff(initial=0.5, maximum=2.0)


class FileUnavailable(Exception):
    """A file could not be fetched this time; a later try of the item may."""


class _Refused(Exception):
    """No later try can fetch the file."""


@dataclass(frozen=True)
class Missing:
    name: str
    reason: str
    for_now: bool = True
    """A later try may fetch it."""


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
        attachments: list[InboundAttachment] = []
        missing: list[Missing] = []
        for file in message.get("files", ()):
            got = self._file(file)
            if isinstance(got, Missing):
                missing.append(got)
            else:
                attachments.append(got)
        if any(m.for_now for m in missing) and not last_try:
            raise FileUnavailable("; ".join(f"{m.name}: {m.reason}" for m in missing))
        notes = [f"[File {m.name} not kept: {m.reason}]" for m in missing]
        text = "\n".join([inbound.reply_text, *notes]).strip()
        return replace(
            inbound, sender=sender, attachments=tuple(attachments), reply_text=text, full_text=text
        )

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
        size = int(file.get("size") or 0)
        if size > self._settings.max_file_bytes:
            return Missing(name, f"{size} bytes, over slack.max_file_bytes", for_now=False)
        mimetype = str(file.get("mimetype") or "application/octet-stream")
        rng = random.Random()
        reason = ""
        for attempt in range(1, TRIES + 1):
            try:
                return InboundAttachment(name, mimetype, self._download(url, mimetype))
            except _Refused as error:
                return Missing(name, str(error), for_now=False)
            except FileUnavailable as error:
                reason = str(error)
            if attempt < TRIES:
                time.sleep(_BACKOFF.delay(attempt, rng))
        return Missing(name, reason)

    def _download(self, url: str, mimetype: str) -> bytes:
        request = urllib.request.Request(  # noqa: S310 (Slack's https URL, a test's loopback)
            url, headers={"Authorization": f"Bearer {self._settings.bot_token}"}
        )
        limit = self._settings.max_file_bytes
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                served = response.headers.get_content_type()
                content = response.read(limit + 1)
        except urllib.error.HTTPError as error:
            if error.code in (408, 429) or error.code >= 500:
                raise FileUnavailable(f"Slack answered HTTP {error.code}") from None
            raise _Refused(f"Slack answered HTTP {error.code}") from None
        except OSError as error:
            raise FileUnavailable(f"cannot reach Slack: {error}") from None
        if served == "text/html" and mimetype != "text/html":
            raise _Refused("Slack answered a sign-in page: the app needs the files:read scope")
        if len(content) > limit:
            raise _Refused(f"over slack.max_file_bytes ({limit} bytes)")
        return content
