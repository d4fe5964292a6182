"""A notice that concerns no single ticket (a digest), queued for an agent who hears on Slack,
through the real dispatcher and ``SlackSender`` to the fake Slack Web API: a DM of its own
under its headline, escaped, never threaded under an earlier one; on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.fake_slack import TEAM_ID, FakeSlack
from threadline.channels.slack.health import SlackHealth
from threadline.channels.slack.sender import SlackSender
from threadline.channels.slack.settings import SlackSettings
from threadline.core.admin.users import add_user, link_account, notify_by
from threadline.core.batch_work import BatchWork
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import OutboxItem
from threadline.core.notices import Notice, give_notice
from threadline.core.send_pace import SendPace
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings, NotificationSettings
from threadline.daemon import channels

GRACE = "grace@staff.example"
MONDAY = datetime(2026, 3, 2, 7, 0)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def grace(sessions: sessionmaker[Session]) -> int:
    """An agent who chose Slack for her notifications."""
    with sessions.begin() as session:
        user_id = add_user(session, "Grace Hopper", GRACE).id
        link_account(session, GRACE, "slack", f"{TEAM_ID}:U0GRACE")
        notify_by(session, GRACE, "slack")
    return user_id


def queue(sessions: sessionmaker[Session], user_id: int, subject: str, at: datetime) -> None:
    with sessions.begin() as session:
        work = BatchWork(session, at)
        notice = Notice("digest", subject, "New:\n  #7 <!here> Printer on fire (open, high)", at)
        give_notice(work, notice, {user_id}, NotificationSettings(), channels.traits())
        work.flush()


def dispatch(sessions: sessionmaker[Session], slack: FakeSlack) -> int:
    settings = SlackSettings(
        enabled=True, signing_secret="secret", bot_token=slack.token, api_base_url=slack.api_url
    )
    senders = SenderRegistry()
    sender = SlackSender(sessions, settings, SlackHealth(settings), SendPace(sessions))
    senders.register("slack", sender)
    return Dispatcher(sessions, senders, DispatchSettings()).run_batch()


def test_a_notice_is_a_direct_message_under_its_headline_escaped(
    sessions: sessionmaker[Session], slack: FakeSlack, grace: int
):
    queue(sessions, grace, "1 assigned to you", MONDAY)

    assert dispatch(sessions, slack) == 1

    (post,) = slack.posts
    assert (post["channel"], post["thread_ts"]) == ("D0GRACE", None)
    assert post["text"] == (
        "*Your tickets: 1 assigned to you*\nNew:\n  #7 &lt;!here&gt; Printer on fire (open, high)"
    )
    with sessions() as session:
        row = session.scalars(select(OutboxItem)).one()
    assert (row.status, row.provider_id) == ("sent", f"D0GRACE:{post['ts']}")


def test_the_next_notice_is_a_message_of_its_own_not_a_reply_in_a_thread(
    sessions: sessionmaker[Session], slack: FakeSlack, grace: int
):
    queue(sessions, grace, "1 assigned to you", MONDAY)
    dispatch(sessions, slack)
    queue(sessions, grace, "2 assigned to you", MONDAY + timedelta(days=1))

    assert dispatch(sessions, slack) == 1

    assert [post["thread_ts"] for post in slack.posts] == [None, None]
