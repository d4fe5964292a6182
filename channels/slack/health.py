"""Whether Slack takes our token: the channel's component for /healthz and the metrics.

A revoked or refused token stops every reply and notification at once, and nobody notices
until customers complain; so the component turns ``failing`` as soon as Slack refuses the
token anywhere (a send, ``auth.test`` at start and every few minutes, the Events API's
``tokens_revoked`` and ``app_uninstalled``). The webhook keeps accepting events meanwhile:
what customers write is stored and waits, nothing is lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog
from slack_sdk.errors import SlackApiError

from threadline.channels.component import State, describe_error
from threadline.channels.schedules import Interval, Job
from threadline.channels.slack.api import TOKEN_REFUSED, error_code, web_client
from threadline.channels.slack.settings import SlackSettings

CHECK_INTERVAL_S = 300
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BotIdentity:
    team_id: str | None = None
    bot_id: str | None = None
    bot_user_id: str | None = None


class SlackHealth:
    """A component and the one place that knows whether the token works; senders report
    refusals to it from worker threads (one attribute write each: no lock needed)."""

    name = "slack"

    def __init__(self, settings: SlackSettings) -> None:
        self._settings = settings
        self._state = State.STARTING
        self._error: str | None = None
        self.identity = BotIdentity()
        """Who the app is at Slack, once ``auth.test`` answered."""

    @property
    def state(self) -> State:
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._error

    async def start(self) -> None:
        """Never fails the start: events are accepted even while Slack refuses the token."""
        await asyncio.to_thread(self.check)

    async def close(self, timeout: float) -> None:
        self._state = State.STOPPED

    def check(self, _tick: datetime | None = None) -> None:
        """``auth.test``: the token works (again), or why not."""
        try:
            answer = web_client(self._settings).auth_test()
        except SlackApiError as error:
            self.refused(error_code(error))
        except Exception as error:
            self._fail(f"Slack's API is unreachable: {describe_error(error)}")
        else:
            self.identity = BotIdentity(
                answer.get("team_id"), answer.get("bot_id"), answer.get("user_id")
            )
            self._state, self._error = State.IDLE, None

    def refused(self, code: str) -> None:
        if code in TOKEN_REFUSED:
            self._fail(
                f"Slack refuses the bot token ({code}): install the app again and set "
                "slack.bot_token to its new token"
            )

    def job(self) -> Job:
        return Job("slack_token_check", self.check, Interval(CHECK_INTERVAL_S))

    def _fail(self, error: str) -> None:
        if self._error != error:
            _log.error("slack channel failing", error=error)
        self._state, self._error = State.FAILING, error
