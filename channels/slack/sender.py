"""Posting outbox rows to Slack: ``chat.postMessage`` into the row's thread, files with
``files_upload_v2``; the posted ``channel:ts`` is the row's provider id, so replies to it
thread back.

A 429 waits its Retry-After; a refused token or target parks the row at once with Slack's
reason (and a refused token turns the channel's health to failing); anything else is retried.

Every post carries the row's idempotency key as message metadata. A resumed row (an earlier
claim may have posted it without the outcome being recorded) first looks for that post: among
the replies of its thread since the row was queued, or for a top-level post in the
conversation's history since then. Found, it is the row's post and nothing is posted again; a
top-level post's files are uploaded then only if its thread shows none of them. A reply whose
files carry its text (``files_upload_v2`` takes no metadata) cannot be found, and is posted
again. A lookup Slack refuses (a missing ``*:history`` scope, or ``im:write`` to find a DM; a
channel the app may post to but not read; any other error Slack answers) is logged and the row
posted: if the earlier post went out, it shows twice. A rate-limited lookup waits like a post.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.resumed import sent_since
from threadline.channels.slack.api import (
    TARGET_REFUSED,
    TOKEN_REFUSED,
    error_code,
    outbox_key,
    outbox_metadata,
    retry_after,
    web_client,
)
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.outgoing import Post, outgoing_post
from threadline.channels.slack.settings import SlackSettings
from threadline.channels.slack.threads import SiblingInFlight, Thread
from threadline.core.models.base import now_utc
from threadline.core.send_pace import SendPace
from threadline.core.senders import (
    NotYet,
    OutboxView,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

SIBLING_WAIT_S = 2.0
LOOKUP_PAGE = 200
"""Messages per page of a lookup, the most Slack recommends."""
LOOKUP_PAGES = 5
"""Pages a lookup reads at most: a post further back is not found, and is posted again."""
USER_IDS = ("U", "W")
"""How Slack's user ids begin: a post to one goes to the DM, whose channel id is asked for."""
_log = structlog.get_logger(__name__)


class SlackSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: SlackSettings,
        health: SlackHealth,
        pace: SendPace,
    ) -> None:
        self._sessions = sessions
        self._client: WebClient = web_client(settings)
        self._health = health
        self._pace = pace
        self._interval = 1 / settings.posts_per_second

    def send(self, item: OutboxView) -> SendResult:
        try:
            with self._sessions() as session:
                post = outgoing_post(session, item, now_utc())
            earlier = self._earlier_post(item, post) if item.resumed else None
            if earlier is not None:
                self._files_after(earlier, post)
                return SendResult(f"{earlier.conversation}:{earlier.ts}")
            return SendResult(self._post(post, item.idempotency_key))
        except SiblingInFlight:
            # Not a failed try: the row is due again once the sibling's post is recorded.
            raise NotYet(SIBLING_WAIT_S) from None
        except SlackApiError as error:
            raise self._refusal(error) from None

    def _earlier_post(self, item: OutboxView, post: Post) -> Thread | None:
        """The post an earlier claim of the row made; None when there is none, or it cannot
        be looked for."""
        if post.files and post.thread:
            return None
        try:
            return self._find(post, item.idempotency_key, sent_since(item))
        except SlackApiError as error:
            if retry_after(error) is not None:
                raise
            _log.warning(
                "slack refused the lookup of an earlier post; posting",
                outbox_id=item.id,
                error=error_code(error),
            )
            return None

    def _find(self, post: Post, key: str, since: datetime) -> Thread | None:
        conversation, thread_ts = post.target
        oldest = f"{since.replace(tzinfo=UTC).timestamp():.6f}"
        if thread_ts:
            pages = self._client.conversations_replies(
                channel=conversation,
                ts=thread_ts,
                oldest=oldest,
                include_all_metadata=True,
                limit=LOOKUP_PAGE,
            )
        else:
            if conversation.startswith(USER_IDS):
                conversation = self._client.conversations_open(users=conversation)["channel"]["id"]
            pages = self._client.conversations_history(
                channel=conversation, oldest=oldest, include_all_metadata=True, limit=LOOKUP_PAGE
            )
        for page in islice(pages, LOOKUP_PAGES):
            for message in page.get("messages") or []:
                if outbox_key(message) == key:
                    return Thread(conversation, message["ts"])
        return None

    def _files_after(self, earlier: Thread, post: Post) -> None:
        """Uploads the files of a top-level post found again into its thread, unless they are
        there: the earlier claim may have ended between the post and its files."""
        if not post.files:
            return
        names = {file.filename for file in post.files}
        replies = self._client.conversations_replies(
            channel=earlier.conversation, ts=earlier.ts, limit=LOOKUP_PAGE
        )
        shared = {
            file.get("name") for message in replies["messages"] for file in message.get("files", [])
        }
        if not names & shared:
            self._upload(earlier.conversation, earlier.ts, post, comment=None)

    def _post(self, post: Post, key: str) -> str | None:
        """The posted message's ``channel:ts``; None when files carried the text, as Slack
        shares an upload later and tells no ts (the thread is known then already)."""
        conversation, thread_ts = post.target
        # Before anything of the row is posted: a row held back must not have half gone out.
        self._pace.wait(f"slack:{conversation}", self._interval)
        if post.files and thread_ts:
            self._upload(conversation, thread_ts, post, comment=post.text)
            return None
        answer = self._client.chat_postMessage(
            channel=conversation,
            text=post.text,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata=outbox_metadata(key),
        )
        posted = f"{answer['channel']}:{answer['ts']}"
        if post.files:
            self._upload(answer["channel"], answer["ts"], post, comment=None)
        return posted

    def _upload(self, channel: str, thread_ts: str, post: Post, comment: str | None) -> None:
        self._client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            initial_comment=comment,
            file_uploads=[
                {"content": file.content, "filename": file.filename, "title": file.filename}
                for file in post.files
            ],
        )

    def _refusal(self, error: SlackApiError) -> Exception:
        code = error_code(error)
        wait = retry_after(error)
        if wait is not None:
            return TransientSendError(f"Slack is rate limiting us ({code})", retry_after=wait)
        self._health.refused(code)
        if code in TOKEN_REFUSED:
            return PermanentSendError(
                f"Slack refuses the bot token ({code}): install the app again, set "
                "slack.bot_token, then `threadline outbox retry`"
            )
        if code in TARGET_REFUSED:
            return PermanentSendError(f"Slack refused the post: {code}")
        return TransientSendError(f"Slack answered {code}")
