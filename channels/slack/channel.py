"""The Slack channel as the daemon sees it: one descriptor.

Off unless ``[slack] enabled``; slack-bolt and slack_sdk are imported only when a daemon with
Slack enabled builds its parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from threadline.channels.component import Service
from threadline.channels.descriptor import (
    Channel,
    ChannelContext,
    Handler,
    Route,
    section,
    switched_off,
)
from threadline.channels.slack import CHANNEL
from threadline.channels.slack.dedup import event_dedup_key
from threadline.channels.slack.settings import SlackSettings
from threadline.core.channel_traits import ChannelTraits
from threadline.core.normalized import Inbound
from threadline.core.parsers import Fetch
from threadline.core.senders import Sender

if TYPE_CHECKING:
    from threadline.channels.schedules import Job
    from threadline.channels.slack.health import SlackHealth


def _parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    from threadline.channels.slack.parser import parse

    return parse(raw, meta)


def _health(context: ChannelContext) -> SlackHealth:
    from threadline.channels.slack.health import SlackHealth

    return context.shared(CHANNEL, lambda: SlackHealth(context.section(SlackSettings)))


def _sender(context: ChannelContext) -> Sender | None:
    from threadline.channels.slack.sender import SlackSender
    from threadline.core.send_pace import SendPace

    settings = context.section(SlackSettings)
    if not settings.enabled:
        return None
    return SlackSender(context.sessions, settings, _health(context), SendPace(context.sessions))


def _components(context: ChannelContext) -> Sequence[Service]:
    return [_health(context)] if context.section(SlackSettings).enabled else []


def _jobs(components: Sequence[Service]) -> Sequence[Job]:
    from threadline.channels.slack.health import SlackHealth

    return [health.job() for health in components if isinstance(health, SlackHealth)]


def _events(context: ChannelContext) -> Handler:
    from threadline.channels.slack.events import events_handler

    if not context.section(SlackSettings).enabled:
        return switched_off("Slack", "slack")
    return events_handler(context, _health(context))


def _fetch(settings: BaseModel) -> Fetch | None:
    from threadline.channels.slack.fetch import SlackFetch

    slack = section(settings, SlackSettings)
    return SlackFetch(slack) if slack.enabled else None


def _feed(settings: BaseModel) -> str | None:
    slack = section(settings, SlackSettings)
    return slack.agents_channel if slack.enabled and slack.agents_channel else None


SLACK = Channel(
    name=CHANNEL,
    parse=_parse,
    dedup_key=event_dedup_key,
    fetch=_fetch,
    parse_in_workers=False,
    sections={"slack": SlackSettings},
    sender=_sender,
    components=_components,
    jobs=_jobs,
    routes=(Route("POST", "/slack/events", _events),),
    feed=_feed,
    traits=ChannelTraits(
        client_id_type="slack",
        verifies_sender=True,
        agent_id_type="slack",
        carries_notifications=True,
    ),
)
