"""Posting outbox rows to Slack: ``chat.postMessage`` into the row's thread, files with
``files_upload_v2``; the posted ``channel:ts`` is the row's provider id, so replies to it
thread back.

A 429 waits its Retry-After; a refused token or target parks the row at once with Slack's
reason (and a refused token turns the channel's health to failing); anything else is retried.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.slack.api import (
    TARGET_REFUSED,
    TOKEN_REFUSED,
    error_code,
    retry_after,
    web_client,
)
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.outgoing import Post, outgoing_post
from threadline.channels.slack.settings import SlackSettings
from threadline.channels.slack.threads import SiblingInFlight
from threadline.core.models.base import now_utc
from threadline.core.senders import (
    OutboxView,
    PermanentSendError,
    SendResult,
    TransientSendError,
)

SIBLING_WAIT_S = 2.0


class SlackSender:
    def __init__(
        self, sessions: sessionmaker[Session], settings: SlackSettings, health: SlackHealth
    ) -> None:
        self._sessions = sessions
        self._client: WebClient = web_client(settings)
        self._health = health

    def send(self, item: OutboxView) -> SendResult:
        try:
            with self._sessions() as session:
                post = outgoing_post(session, item, now_utc())
            return SendResult(self._post(post))
        except SiblingInFlight:
            raise TransientSendError(
                "an earlier post of this ticket's thread is being sent; waiting for its thread",
                retry_after=SIBLING_WAIT_S,
            ) from None
        except SlackApiError as error:
            raise self._refusal(error) from None

    def _post(self, post: Post) -> str | None:
        """The posted message's ``channel:ts``; None when files carried the text, as Slack
        shares an upload later and tells no ts (the thread is known then already)."""
        thread_ts = post.thread.ts if post.thread else None
        conversation = post.thread.conversation if post.thread else post.conversation
        if post.files and thread_ts:
            self._upload(conversation, thread_ts, post, comment=post.text)
            return None
        answer = self._client.chat_postMessage(
            channel=conversation,
            text=post.text,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
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
