"""What leaves for Slack and what agents write there, end to end: replies into the client's
thread, the agents' channel, notification DMs, and how refusals by Slack are handled."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tests.channels.slack.conftest import (
    AGENT_EMAIL,
    AGENT_USER,
    AGENTS,
    WAIT_S,
    SlackDesk,
    healthz,
    recorded,
)
from tests.support.daemon import eventually

CLIENT_EMAIL = "ada@example.com"


def answer_by_mail(desk: SlackDesk, notification: EmailMessage, text: str) -> None:
    """The agent answers through the notification's Reply-To, as from their mail client."""
    (reply_to,) = notification["Reply-To"].addresses
    mail = (
        f"From: Grace Hopper <{AGENT_EMAIL}>\r\nTo: {reply_to.addr_spec}\r\n"
        f"Subject: Re: {notification['Subject']}\r\nMessage-ID: <g1@staff.example>\r\n"
        f"\r\n{text}\r\n"
    )
    with smtplib.SMTP("127.0.0.1", desk.smtp_port, timeout=WAIT_S) as client:
        assert client.sendmail(AGENT_EMAIL, [reply_to.addr_spec], mail.encode()) == {}


def agent_says(desk: SlackDesk, text: str, channel: str, thread_ts: str) -> None:
    event = desk.message(
        text, channel=channel, channel_type="channel", user=AGENT_USER, thread_ts=thread_ts
    )
    assert desk.send(event)[0] == 200


def test_a_slack_clients_ticket_answered_by_mail_is_posted_into_their_thread_escaped(
    slack_desk: SlackDesk,
):
    desk = slack_desk
    question = desk.message("Is my data safe?")
    desk.send(question)
    notification = eventually("the agent's mail", lambda: desk.sink.received)[0].message

    answer_by_mail(desk, notification, "Yes. <!channel> @here <https://evil.example|click>")

    posts = desk.slack.wait_for_posts(3)
    (reply,) = [post for post in posts if post["channel"] == "D0ADA"]
    assert reply["thread_ts"] == question["ts"]
    assert reply["text"] == ("Yes. &lt;!channel&gt; @\u200bhere &lt;https://evil.example|click&gt;")
    # The agents' channel follows the ticket in one thread: the client's message, the answer.
    feed = [post for post in posts if post["channel"] == AGENTS]
    assert feed[0]["thread_ts"] is None
    assert "Is my data safe?" in feed[0]["text"]
    assert feed[1]["thread_ts"] == feed[0]["ts"]
    assert "Grace Hopper (agent, by email)" in feed[1]["text"]


def test_a_mail_clients_ticket_is_answered_from_the_agents_channel_with_threading_headers(
    slack_desk: SlackDesk,
):
    desk = slack_desk
    desk.mail(CLIENT_EMAIL, "Printer on fire", "It is on fire.", "<fire-1@example.com>")
    (root,) = desk.slack.wait_for_posts(1)
    assert (root["channel"], root["thread_ts"]) == (AGENTS, None)
    assert root["text"].startswith("*#")
    assert "Printer on fire" in root["text"]

    thread = recorded(desk.sessions, root)
    agent_says(desk, "note: I know this printer, it does that.", AGENTS, thread)
    agent_says(desk, "#priority high\nPull the plug, then use the extinguisher.", AGENTS, thread)

    mails = eventually(
        "the reply mail", lambda: [r for r in desk.sink.received if CLIENT_EMAIL in r.rcpt_tos]
    )
    (reply,) = mails
    message = reply.message
    assert message["In-Reply-To"] == "<fire-1@example.com>"
    assert "<fire-1@example.com>" in message["References"]
    text = message.get_body(("plain",)).get_content()
    assert "\nPull the plug, then use the extinguisher." in text
    (ticket,) = desk.tickets()
    assert (ticket.priority, ticket.status) == ("high", "waiting_for_user")
    bodies = [(m.body, m.is_internal) for m in desk.messages(ticket.id)]
    assert bodies[1] == ("I know this printer, it does that.", True)
    assert bodies[2] == ("Pull the plug, then use the extinguisher.", False)

    agent_says(desk, "#close", AGENTS, thread)
    eventually("the ticket closed", lambda: desk.tickets()[0].status == "closed")


@pytest.mark.parametrize("slack_desk", [20], indirect=True)
def test_an_answer_to_our_post_before_slack_answered_the_post_waits_and_is_not_parked(
    slack_desk: SlackDesk,
):
    """Slack can deliver an agent's answer in our post's thread before its answer to the post
    itself reached the desk; until then the desk cannot know the thread is the ticket's."""
    desk = slack_desk
    desk.slack.hold_answers("chat.postMessage")
    desk.mail(CLIENT_EMAIL, "Printer on fire", "It is on fire.", "<fire-1@example.com>")
    (root,) = desk.slack.wait_for_posts(1)

    agent_says(desk, "Pull the plug.", AGENTS, root["ts"])
    eventually("the answer tried once", lambda: desk.items()[-1].attempts >= 1)
    waiting = desk.items()[-1]
    assert waiting.status == "pending"
    assert "not recorded yet" in waiting.last_error
    desk.slack.release_answers()

    (mail,) = eventually(
        "the reply mail", lambda: [r for r in desk.sink.received if CLIENT_EMAIL in r.rcpt_tos]
    )
    assert mail.message["In-Reply-To"] == "<fire-1@example.com>"
    assert [item.status for item in desk.settled()] == ["done", "done"]
    (ticket,) = desk.tickets()
    assert [m.body for m in desk.messages(ticket.id)] == ["It is on fire.", "Pull the plug."]


def test_someone_who_is_no_agent_writing_in_the_agents_channel_is_parked(slack_desk: SlackDesk):
    desk = slack_desk
    desk.mail(CLIENT_EMAIL, "Question", "Hello", "<q-1@example.com>")
    (root,) = desk.slack.wait_for_posts(1)

    stranger = desk.message("I'll take it", channel=AGENTS, channel_type="channel", user="U0NEW")
    desk.send({**stranger, "thread_ts": recorded(desk.sessions, root)})

    item = desk.settled()[-1]
    assert item.status == "parked"
    assert "linked to no agent" in item.last_error
    assert len(desk.messages()) == 1


def test_an_agent_notified_by_slack_dm_answers_in_its_thread(slack_desk: SlackDesk):
    desk = slack_desk
    desk.threadline("users", "notify", AGENT_EMAIL, "slack")
    desk.mail(CLIENT_EMAIL, "Refund", "Please refund order 7.", "<refund-1@example.com>")

    posts = desk.slack.wait_for_posts(2)
    (dm,) = [post for post in posts if post["params"]["channel"] == AGENT_USER]
    assert (dm["channel"], dm["thread_ts"]) == ("D0GRACE", None)
    assert dm["text"].startswith("New ticket")
    assert "Please refund order 7." in dm["text"]
    assert desk.sink.received == []

    reply = desk.message("Done, refunded.", channel=dm["channel"], user=AGENT_USER)
    desk.send({**reply, "thread_ts": recorded(desk.sessions, dm)})

    (mail,) = eventually("the reply mail", lambda: desk.sink.received)
    assert mail.rcpt_tos == (CLIENT_EMAIL,)
    assert mail.message["In-Reply-To"] == "<refund-1@example.com>"


def test_a_rate_limited_post_waits_for_retry_after_and_is_sent_once(slack_desk: SlackDesk):
    desk = slack_desk
    desk.slack.rate_limit_next("chat.postMessage", retry_after=1)

    desk.mail(CLIENT_EMAIL, "Slow", "Hello", "<slow-1@example.com>")

    (post,) = desk.slack.wait_for_posts(1, timeout=WAIT_S)
    assert post["channel"] == AGENTS
    assert desk.slack.calls("chat.postMessage") == 2
    (row,) = eventually(
        "the row sent",
        lambda: [r for r in desk.outbox() if r.channel == "slack" and r.status == "sent"],
    )
    assert row.attempts == 2
    assert "rate limiting" not in (row.last_error or "")


def test_a_missing_channel_parks_the_post_at_once(slack_desk: SlackDesk):
    desk = slack_desk
    desk.slack.fail_channel(AGENTS, "channel_not_found")

    desk.mail(CLIENT_EMAIL, "Hello", "Anyone?", "<hello-1@example.com>")

    (row,) = eventually(
        "the row parked", lambda: [r for r in desk.outbox() if r.status == "parked"]
    )
    assert (row.attempts, row.last_error) == (1, "Slack refused the post: channel_not_found")
    assert healthz(desk)["components"]["slack"]["state"] != "failing"


def test_a_revoked_token_parks_posts_and_turns_health_failing(slack_desk: SlackDesk):
    desk = slack_desk
    desk.slack.revoke()

    desk.mail(CLIENT_EMAIL, "Hello", "Anyone?", "<hello-2@example.com>")

    (row,) = eventually(
        "the row parked", lambda: [r for r in desk.outbox() if r.status == "parked"]
    )
    assert "token_revoked" in row.last_error
    health = eventually("health failing", lambda: (h := healthz(desk))["status"] != "ok" and h)
    assert health["components"]["slack"]["state"] == "failing"
    assert "token_revoked" in health["components"]["slack"]["last_error"]
    metrics = desk.daemon.get("/metrics")[1].decode()
    assert 'component="slack",state="failing"} 1.0' in metrics
    # Customers' messages are still accepted meanwhile, and wait.
    assert desk.send(desk.message("Still there?"))[0] == 200
