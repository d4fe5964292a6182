"""Posts into one Slack conversation (three threads of one DM) keep its pace
(``slack.posts_per_second``) even when the dispatcher sends their rows side by side, through
the real dispatcher and ``SlackSender`` to the fake Slack Web API, on both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.slack.test_resumed_posts import queue_reply, settings
from tests.support.fake_slack import FakeSlack
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.sender import SlackSender
from threadline.core.dispatcher import Dispatcher
from threadline.core.send_pace import SendPace
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

POSTS_PER_SECOND = 4.0


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def test_replies_of_several_tickets_into_one_conversation_go_a_pace_apart(
    sessions: sessionmaker[Session], slack: FakeSlack
):
    paced = settings(slack).model_copy(update={"posts_per_second": POSTS_PER_SECOND})
    sender = SlackSender(sessions, paced, SlackHealth(paced), SendPace(sessions))
    senders = SenderRegistry()
    senders.register("slack", sender)
    for thread in range(3):
        queue_reply(sessions, thread_ts=f"170000000{thread}.000100")

    started = time.time()
    Dispatcher(sessions, senders, DispatchSettings(concurrency=4)).run_batch()

    # The pace spaces the posts' turns, each post leaving no earlier than its own; when each
    # arrives varies with the machine's load, so two arrivals may come closer than the pace.
    # What holds whatever the load: the k-th arrival comes no earlier than the k-th turn, and
    # the first turn was no earlier than the start.
    arrivals = sorted(float(post["ts"]) for post in slack.posts)
    assert len(arrivals) == 3
    earliest = [started + place / POSTS_PER_SECOND for place in range(3)]
    assert all(a >= e for a, e in zip(arrivals, earliest, strict=True)), (arrivals, earliest)
