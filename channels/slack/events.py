"""``POST /slack/events``: the Events API, through slack-bolt's ``AsyncApp`` on the daemon's
aiohttp server.

Bolt checks the signature (v0 HMAC, constant time, at most 5 minutes old: else 401 and nothing
stored), answers ``url_verification``, and drops our own app's events. Our one middleware then
stores the event in the intake queue, committed, and only then answers 200, inside the request
(``process_before_response``): bolt's default would answer first and lose what a crash
interrupts. Slack retries an event it got no 2xx for within 3 seconds, so nothing slow happens
here; a retry (same ``event_id``) is stored once and answered 200 again. Concurrent events
share commits (``channels/group_commit.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from threadline.channels.descriptor import ChannelContext, Handler
from threadline.channels.group_commit import GroupCommit
from threadline.channels.slack import CHANNEL
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.places import place_of
from threadline.channels.slack.settings import SlackSettings
from threadline.core.intake import RawItem

_REVOKING = ("tokens_revoked", "app_uninstalled")
_log = structlog.get_logger(__name__)


def events_handler(context: ChannelContext, health: SlackHealth) -> Handler:
    settings = context.section(SlackSettings)

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        """Who we are, as ``auth.test`` told at start: never a call to Slack per event,
        so accepting an event never waits for (or fails with) the Web API."""
        identity = health.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_id=identity.bot_id,
            bot_user_id=identity.bot_user_id,
            bot_token=settings.bot_token,
        )

    app = AsyncApp(
        signing_secret=settings.signing_secret,
        authorize=authorize,
        process_before_response=True,
        # For slash commands, workflow functions and assistants, which this app has none of.
        ssl_check_enabled=False,
        attaching_function_token_enabled=False,
        ignoring_self_assistant_message_events_enabled=False,
    )
    app.use(_accepting(settings, GroupCommit(context.intake), health))

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    return handle


Next = Callable[[], Awaitable[None]]


def _accepting(
    settings: SlackSettings, intake: GroupCommit, health: SlackHealth
) -> Callable[[AsyncBoltRequest, BoltResponse, Next], Awaitable[BoltResponse]]:
    continues_open = not settings.new_ticket_per_top_level_message

    async def accept(req: AsyncBoltRequest, resp: BoltResponse, next: Next) -> BoltResponse:
        """Answers every request itself: no bolt listener runs."""
        body = req.body
        if body.get("type") != "event_callback":
            return BoltResponse(status=200, body="")
        if body.get("event", {}).get("type") in _REVOKING:
            health.refused("token_revoked")
            return BoltResponse(status=200, body="")
        place = place_of(body, settings)
        event_id = body.get("event_id")
        if place is None:
            return BoltResponse(status=200, body="")
        if not isinstance(event_id, str) or not event_id:
            return BoltResponse(status=400, body="an event_callback without an event_id")
        meta = {"place": place.value, "continues_open": continues_open}
        item = RawItem(CHANNEL, event_id, req.raw_body.encode(), meta)
        try:
            await intake.accept(item)
        except Exception as error:
            # Slack retries a 5xx: the event is not lost, only late.
            _log.error("slack event not accepted", event_id=event_id, error=repr(error))
            return BoltResponse(status=500, body="")
        return BoltResponse(status=200, body="")

    return accept
