"""The webhooks of a channel that is off answer 404 naming the setting that turns it on, and
build nothing of the channel (no database, no SDK client)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiohttp.test_utils import make_mocked_request

from threadline.channels.descriptor import ChannelContext, Route
from threadline.channels.slack.channel import SLACK
from threadline.channels.whatsapp.channel import WHATSAPP
from threadline.daemon.settings import default_settings

ROUTES = [
    *((route, "the Slack channel is off: [slack] enabled is false\n") for route in SLACK.routes),
    *(
        (route, "the WhatsApp channel is off: [whatsapp] enabled is false\n")
        for route in WHATSAPP.routes
    ),
]


@pytest.mark.parametrize(("route", "said"), ROUTES, ids=[route.path for route, _said in ROUTES])
def test_a_route_of_a_channel_that_is_off_answers_404(route: Route, said: str):
    nothing = cast(Any, None)
    context = ChannelContext(default_settings(), nothing, nothing, nothing, nothing)

    response = asyncio.run(route.handler(context)(make_mocked_request(route.method, route.path)))

    assert response.status == 404
    assert response.text == said
