"""``/slack/events`` end to end: what is refused, what is stored once, and what never becomes
a message, with the daemon as a subprocess on each database."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from tests.channels.slack.conftest import (
    AGENTS,
    CLIENT_USER,
    SHARED,
    SUPPORT,
    SlackDesk,
)
from tests.support.daemon import eventually
from tests.support.fake_slack import BOT_ID, BOT_USER_ID, TEAM_ID
from threadline.core.models import Client, ClientExternalId


def test_forged_and_stale_requests_are_refused_and_nothing_is_stored(slack_desk: SlackDesk):
    desk = slack_desk
    event = desk.message("Hello?")

    assert desk.send(event, secret="not-the-signing-secret")[0] == 401
    assert desk.send(event, timestamp=int(time.time()) - 6 * 60)[0] == 401
    challenge = {"type": "url_verification", "token": "x", "challenge": "c4a11en9e"}
    status, answer = desk.post(challenge)
    assert (status, json.loads(answer)) == (200, {"challenge": "c4a11en9e"})
    assert desk.post(challenge, secret="forged")[0] == 401

    assert desk.items() == []


def test_a_retried_event_and_its_app_mention_make_one_message(slack_desk: SlackDesk):
    desk = slack_desk
    event = desk.message("<@U0BOT> my invoice is wrong", channel=SUPPORT, channel_type="channel")
    mention = {**event, "type": "app_mention"}

    assert desk.send(event, event_id="Ev0001")[0] == 200
    assert desk.send(event, event_id="Ev0001", retry=1)[0] == 200
    assert desk.send(mention, event_id="Ev0002")[0] == 200

    items = desk.settled()
    assert [(item.dedup_key, item.status) for item in items] == [
        ("Ev0001", "done"),
        ("Ev0002", "ignored"),
    ]
    (ticket,) = desk.tickets()
    assert [m.body for m in desk.messages(ticket.id)] == ["@U0BOT my invoice is wrong"]
    assert ticket.title == "@U0BOT my invoice is wrong"
    with desk.sessions() as session:
        client = session.scalars(select(Client)).one()
        external = session.scalars(select(ClientExternalId.value)).all()
    assert (client.name, external) == ("Ada Lovelace", [f"{TEAM_ID}:{CLIENT_USER}"])


def test_a_reply_in_the_thread_continues_its_ticket_and_a_new_message_opens_another(
    slack_desk: SlackDesk,
):
    desk = slack_desk
    first = desk.message("The app crashes on start.")
    desk.send(first)
    desk.send(desk.message("Since the update.", thread_ts=first["ts"]))
    desk.send(desk.message("Also: how do I export?", subtype="thread_broadcast"))
    desk.send(desk.message("Unrelated: can I change my plan?"))

    desk.settled()
    tickets = desk.tickets()
    assert len(tickets) == 3
    assert [m.body for m in desk.messages(tickets[0].id)] == [
        "The app crashes on start.",
        "Since the update.",
    ]


def test_bots_our_own_posts_and_other_channels_never_become_messages(slack_desk: SlackDesk):
    desk = slack_desk
    ours = desk.message("Thank you!", user=BOT_USER_ID, bot_id=BOT_ID)
    other_bot = desk.message("Deploy finished", bot_id="B0CI", subtype="bot_message")
    elsewhere = desk.message("lunch?", channel="C0RANDOM", channel_type="channel")
    chatter = desk.message("anyone free?", channel=AGENTS, channel_type="channel")
    unfurl = desk.message("x", subtype="message_changed")
    for event in (ours, other_bot, elsewhere, chatter, unfurl):
        assert desk.send(event)[0] == 200
    desk.send(desk.message("A real question."))

    (item,) = desk.settled()
    assert item.status == "done"
    assert len(desk.messages()) == 1


def test_edits_and_deletions_are_kept_as_internal_notes(slack_desk: SlackDesk):
    desk = slack_desk
    original = desk.message("My order 1234 is late.")
    desk.send(original)
    edited = {**original, "text": "My order 1243 is late.", "edited": {"ts": desk.next_ts()}}
    desk.send(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": original["channel"],
            "channel_type": "im",
            "ts": desk.next_ts(),
            "message": edited,
            "previous_message": original,
        }
    )
    desk.send(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": original["channel"],
            "channel_type": "im",
            "ts": desk.next_ts(),
            "deleted_ts": original["ts"],
            "previous_message": edited,
        }
    )

    assert [item.status for item in desk.settled()] == ["done", "done", "done"]
    (ticket,) = desk.tickets()
    notes = [(m.body, m.is_internal) for m in desk.messages(ticket.id)]
    assert notes == [
        ("My order 1234 is late.", False),
        ("Edited in Slack; now:\nMy order 1243 is late.", True),
        ("Deleted in Slack by its writer.", True),
    ]
    assert ticket.status == "open"
    # The agent heard of the message once, not of each note.
    assert len(eventually("the notification", lambda: desk.sink.received)) == 1


def test_a_slack_connect_client_is_known_by_their_own_team(slack_desk: SlackDesk):
    desk = slack_desk
    desk.slack.add_user("U0BOB", "T0OTHER", "Bob Partner")
    event = desk.message(
        "Our integration is down",
        channel=SHARED,
        channel_type="channel",
        user="U0BOB",
        user_team="T0OTHER",
        team="T0OTHER",
    )

    assert desk.send(event, shared=True)[0] == 200

    desk.settled()
    with desk.sessions() as session:
        assert session.scalars(select(ClientExternalId.value)).all() == ["T0OTHER:U0BOB"]
        assert session.scalars(select(Client.name)).all() == ["Bob Partner"]
