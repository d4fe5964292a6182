"""Which events are the desk's, and what a stored event means, without any server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from threadline.channels.slack.parser import parse
from threadline.channels.slack.places import Place, place_of
from threadline.channels.slack.settings import SlackSettings
from threadline.core.outcome import Park

SETTINGS = SlackSettings(support_channels=("C0SUPPORT",), agents_channel="C0AGENTS")


def envelope(shared: bool = False, **event: Any) -> dict[str, Any]:
    base = {"type": "message", "channel": "D0ADA", "channel_type": "im", "user": "U0ADA"}
    return {
        "type": "event_callback",
        "team_id": "T0DESK",
        "event_id": "Ev1",
        "is_ext_shared_channel": shared,
        "event": {**base, "text": "Hello", "ts": "1765000000.000100", **event},
    }


def parsed(place: Place, continues_open: bool = False, **event: Any):
    raw = json.dumps(envelope(**event)).encode()
    return parse(raw, {"place": place.value, "continues_open": continues_open})


@pytest.mark.parametrize(
    ("event", "place"),
    [
        ({}, Place.DIRECT),
        ({"channel": "C0SUPPORT", "channel_type": "channel"}, Place.SUPPORT),
        ({"channel": "C0SHARED", "channel_type": "channel", "shared": True}, Place.SHARED),
        ({"channel": "C0RANDOM", "channel_type": "channel"}, None),
        ({"channel": "C0AGENTS", "channel_type": "channel"}, None),
        ({"channel": "C0AGENTS", "thread_ts": "1765000000.000001"}, Place.AGENTS),
        ({"type": "app_mention", "channel": "C0SUPPORT", "channel_type": "channel"}, Place.SUPPORT),
        ({"bot_id": "B0CI"}, None),
        ({"subtype": "bot_message", "user": None}, None),
        ({"subtype": "channel_join"}, None),
        ({"type": "reaction_added"}, None),
    ],
)
def test_only_customers_places_and_agents_threads_are_the_desks(
    event: dict[str, Any], place: Place | None
):
    assert place_of(envelope(**event), SETTINGS) == place


def test_an_edit_that_changed_no_text_is_not_the_desks():
    message = {"user": "U0ADA", "text": "see https://x.example", "ts": "1.1"}
    unfurled = envelope(subtype="message_changed", message=message, previous_message=message)
    assert place_of(unfurled, SETTINGS) is None


def test_a_top_level_message_is_its_own_thread_and_a_reply_names_its_root():
    top = parsed(Place.DIRECT)
    assert top.hints.own_id == "D0ADA:1765000000.000100"
    assert top.hints.chat_thread == top.hints.own_id
    assert not top.hints.threadless
    assert top.sender.value == "T0DESK:U0ADA"
    assert top.receiving_address == "D0ADA"
    reply = parsed(Place.DIRECT, ts="1765000000.000200", thread_ts="1765000000.000100")
    assert reply.hints.chat_thread == "D0ADA:1765000000.000100"


def test_where_top_level_messages_continue_a_ticket_they_are_threadless():
    assert parsed(Place.SUPPORT, continues_open=True).hints.threadless
    reply = parsed(Place.SUPPORT, continues_open=True, thread_ts="1765000000.000001")
    assert not reply.hints.threadless


def test_who_reads_along_depends_on_the_place():
    assert parsed(Place.SUPPORT).in_clients_view
    assert parsed(Place.SHARED).in_clients_view
    assert not parsed(Place.DIRECT).in_clients_view
    agents = parsed(Place.AGENTS, thread_ts="1765000000.000001")
    assert agents.from_agents
    assert not agents.in_clients_view


def test_a_slack_connect_writer_is_known_by_their_own_team():
    inbound = parsed(Place.SHARED, user="U0BOB", user_team="T0OTHER", team="T0OTHER")
    assert inbound.sender.value == "T0OTHER:U0BOB"


def test_a_long_first_line_makes_a_short_title():
    inbound = parsed(Place.DIRECT, text="word " * 40)
    assert len(inbound.subject) == 80
    assert inbound.subject.endswith("…")


def test_an_event_that_is_no_message_is_parked_saying_so():
    with pytest.raises(Park, match="not a Slack message event"):
        parse(b'{"event": {"type": "message"}}', {"place": "direct"})
    with pytest.raises(Park, match="not a Slack message event"):
        parse(b"not json", {"place": "direct"})
