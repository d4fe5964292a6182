"""A row whose daemon died between its post and the record of it: every post carries the row's
key as message metadata, and the row, resumed, finds that post in its thread or in the
conversation's history instead of posting again; through the real dispatcher and
``SlackSender`` to the fake Slack Web API, on both databases."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.fake_slack import TEAM_ID, FakeSlack
from tests.support.outbox import dispatch_through_crash, enqueued
from threadline.channels.slack.api import outbox_metadata
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.sender import SlackSender
from threadline.channels.slack.settings import SlackSettings
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import (
    Attachment,
    Blob,
    Client,
    Message,
    MessageRef,
    OutboxItem,
    Ticket,
    User,
)
from threadline.core.outbox import Outgoing
from threadline.core.send_pace import SendPace
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

ADA = f"{TEAM_ID}:U0ADA"
LOOKUPS = ("conversations.replies", "conversations.history", "conversations.open")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def health(slack: FakeSlack) -> SlackHealth:
    return SlackHealth(settings(slack))


@pytest.fixture
def sender(sessions: sessionmaker[Session], slack: FakeSlack, health: SlackHealth) -> SlackSender:
    return SlackSender(sessions, settings(slack), health, SendPace(sessions))


def settings(slack: FakeSlack) -> SlackSettings:
    return SlackSettings(
        enabled=True, signing_secret="secret", bot_token=slack.token, api_base_url=slack.api_url
    )


def queue_reply(
    sessions: sessionmaker[Session], thread_ts: str | None, files: Sequence[str] = ()
) -> int:
    """An agent's answer to Ada, with ``files`` (names): into the thread of her DM that starts
    at ``thread_ts``, or, with none, at the top of her DM."""
    with sessions.begin() as session:
        client = Client(name="Ada Lovelace")
        session.add(client)
        session.flush()
        ticket = Ticket(title="Is my data safe?", client_id=client.id)
        session.add(ticket)
        session.flush()
        agent = User(name="Grace Hopper", email=f"grace+{ticket.id}@staff.example", type="agent")
        session.add(agent)
        session.flush()
        question = Message(ticket_id=ticket.id, client_id=client.id, body="?", channel="slack")
        answer = Message(ticket_id=ticket.id, user_id=agent.id, body="Yes.", channel="email")
        session.add_all([question, answer])
        session.flush()
        if thread_ts:
            key = f"D0ADA:{thread_ts}"
            session.add(
                MessageRef(
                    channel="slack",
                    external_id=key,
                    ticket_id=ticket.id,
                    message_id=question.id,
                    thread_key=key,
                )
            )
        for name in files:
            content = name.encode()
            sha256 = hashlib.sha256(content).hexdigest()
            session.add(Blob(sha256=sha256, size=len(content), content=content))
            session.flush()
            session.add(
                Attachment(
                    message_id=answer.id,
                    filename=name,
                    content_type="text/plain",
                    size=len(content),
                    sha256=sha256,
                )
            )
        ticket_id, answer_id = ticket.id, answer.id
    reply = Outgoing(
        channel="slack",
        kind="reply",
        recipient=ADA,
        payload={"body": "Yes, it is."},
        idempotency_key=f"reply:{answer_id}:{ADA}",
        ticket_id=ticket_id,
        message_id=answer_id,
    )
    return enqueued(sessions, reply)[0]


def queue_notice(sessions: sessionmaker[Session]) -> int:
    """A digest for Grace: a post at the top of her DM."""
    payload = {"type": "digest", "subject": "2 open", "body": "#7 Printer on fire"}
    notice = Outgoing("slack", "notification", f"{TEAM_ID}:U0GRACE", payload, "digest:1:monday")
    return enqueued(sessions, notice)[0]


def row(sessions: sessionmaker[Session], row_id: int) -> OutboxItem:
    with sessions() as session:
        found = session.get(OutboxItem, row_id)
    assert found is not None
    return found


def dispatch(sessions: sessionmaker[Session], sender: SlackSender) -> None:
    senders = SenderRegistry()
    senders.register("slack", sender)
    Dispatcher(sessions, senders, DispatchSettings()).run_batch()


def test_a_resumed_reply_whose_post_went_out_records_it_and_posts_nothing_in_the_thread(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender
):
    thread_ts = slack.message_from("U0ADA", "D0ADA", "Is my data safe?")
    row_id = queue_reply(sessions, thread_ts)

    dispatch_through_crash(sessions, "slack", sender, after_send=True)

    (post,) = slack.posts
    assert (post["channel"], post["thread_ts"]) == ("D0ADA", thread_ts)
    sent = row(sessions, row_id)
    assert (sent.status, sent.provider_id) == ("sent", f"D0ADA:{post['ts']}")
    assert post["params"]["metadata"] == outbox_metadata(sent.idempotency_key)
    assert slack.calls("conversations.replies") == 1


def test_a_resumed_notice_whose_post_went_out_is_found_at_the_top_of_the_dm(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender
):
    row_id = queue_notice(sessions)

    dispatch_through_crash(sessions, "slack", sender, after_send=True)

    (post,) = slack.posts
    assert (post["channel"], post["thread_ts"]) == ("D0GRACE", None)
    sent = row(sessions, row_id)
    assert (sent.status, sent.provider_id) == ("sent", f"D0GRACE:{post['ts']}")
    assert (slack.calls("conversations.open"), slack.calls("conversations.history")) == (1, 1)


@pytest.mark.parametrize("in_thread", [True, False], ids=["thread", "top-level"])
def test_a_resumed_row_whose_post_never_went_out_is_posted_once(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender, in_thread: bool
):
    thread_ts = slack.message_from("U0ADA", "D0ADA", "Hello?") if in_thread else None
    row_id = queue_reply(sessions, thread_ts)

    dispatch_through_crash(sessions, "slack", sender, after_send=False)

    (post,) = slack.posts
    assert post["thread_ts"] == thread_ts
    assert row(sessions, row_id).provider_id == f"D0ADA:{post['ts']}"
    assert sum(slack.calls(method) for method in LOOKUPS) == (1 if in_thread else 2)


def test_a_row_not_resumed_posts_with_its_key_and_never_looks(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender
):
    thread_ts = slack.message_from("U0ADA", "D0ADA", "Hello?")
    queue_reply(sessions, thread_ts)
    queue_notice(sessions)

    dispatch(sessions, sender)

    assert len(slack.posts) == 2
    assert all(
        post["params"]["metadata"]["event_type"] == "threadline_outbox" for post in slack.posts
    )
    assert [slack.calls(method) for method in LOOKUPS] == [0, 0, 0]


def test_a_lookup_slack_refuses_is_passed_over_and_the_row_posted_again(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender, health: SlackHealth
):
    slack.refuse("conversations.history", "missing_scope")
    row_id = queue_notice(sessions)

    dispatch_through_crash(sessions, "slack", sender, after_send=True)

    first, again = slack.posts
    assert first["text"] == again["text"]
    assert row(sessions, row_id).provider_id == f"D0GRACE:{again['ts']}"
    # A scope the lookup lacks is no refused token: the channel stays healthy.
    assert health.last_error is None


def test_a_rate_limited_lookup_waits_like_a_post(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender
):
    slack.rate_limit_next("conversations.replies", retry_after=30)
    row_id = queue_reply(sessions, slack.message_from("U0ADA", "D0ADA", "Hello?"))

    dispatch_through_crash(sessions, "slack", sender, after_send=True)

    assert len(slack.posts) == 1
    waiting = row(sessions, row_id)
    assert (waiting.status, waiting.provider_id) == ("pending", None)
    assert "rate limiting" in (waiting.last_error or "")


def test_a_top_level_post_found_again_gets_its_files_only_if_its_thread_lacks_them(
    sessions: sessionmaker[Session], slack: FakeSlack, sender: SlackSender
):
    """Its files go into its thread after it: the earlier claim may have died in between."""
    complete = queue_reply(sessions, None, files=["invoice.txt"])
    dispatch_through_crash(sessions, "slack", sender, after_send=True)
    assert [(u["filename"], u["thread_ts"]) for u in slack.uploads] == [
        ("invoice.txt", slack.posts[0]["ts"])
    ]

    bare = queue_reply(sessions, None, files=["receipt.txt"])
    key = row(sessions, bare).idempotency_key
    client = WebClient(token=slack.token, base_url=slack.api_url)
    text_only = client.chat_postMessage(
        channel="U0ADA", text="Yes, it is.", metadata=outbox_metadata(key)
    )
    dispatch_through_crash(sessions, "slack", sender, after_send=False)

    assert len(slack.posts) == 2
    assert row(sessions, complete).status == "sent"
    assert row(sessions, bare).provider_id == f"D0ADA:{text_only['ts']}"
    assert [(u["filename"], u["thread_ts"]) for u in slack.uploads][1:] == [
        ("receipt.txt", text_only["ts"])
    ]
