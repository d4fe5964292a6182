"""Notices that concern no single ticket: a row without a ticket for each active user, agents
and administrators alike, delivered on each one's channel as they chose, once; on
both databases."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.fake_slack import TEAM_ID
from tests.support.messages import SLACK_TRAITS
from threadline.core.admin.users import add_user
from threadline.core.batch_work import BatchWork
from threadline.core.models import AgentSettings, Notification, OutboxItem, UserOAuthAccount
from threadline.core.notices import Notice, give_notice
from threadline.core.settings import NotificationSettings
from threadline.daemon import channels

AT = datetime(2026, 3, 2, 7, 0)
NOTICE = Notice("stuck_items", "2 inbound items parked", "item 4 ...", AT)
TRAITS = {**channels.traits(), "slack": SLACK_TRAITS}


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Name -> user id: two agents, an administrator, and a deactivated agent."""
    with sessions.begin() as session:
        ids = {
            name: add_user(session, name.title(), f"{name}@desk.example", kind).id
            for name, kind in (
                ("grace", "agent"),
                ("alan", "agent"),
                ("root", "administrator"),
                ("gone", "agent"),
            )
        }
        session.add(AgentSettings(user_id=ids["gone"], active=False))
    return ids


def give(
    sessions: sessionmaker[Session],
    user_ids: Collection[int],
    notice: Notice = NOTICE,
    settings: NotificationSettings | None = None,
) -> int:
    with sessions.begin() as session:
        work = BatchWork(session, AT)
        queued = give_notice(work, notice, user_ids, settings or NotificationSettings(), TRAITS)
        work.flush()
    return queued


def listed(sessions: sessionmaker[Session]) -> list[tuple[int, int | None, str, str, datetime]]:
    with sessions() as session:
        found = session.execute(
            select(
                Notification.user_id,
                Notification.ticket_id,
                Notification.type,
                Notification.content,
                Notification.created_at,
            ).order_by(Notification.user_id)
        )
        return [tuple(row) for row in found]


def delivered(sessions: sessionmaker[Session]) -> list[OutboxItem]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.recipient)))


def test_each_active_user_gets_a_row_without_a_ticket_and_a_mail(
    sessions: sessionmaker[Session], people: dict[str, int]
):
    assert give(sessions, people.values()) == 3

    assert listed(sessions) == [
        (people[name], None, "stuck_items", "2 inbound items parked", AT)
        for name in ("grace", "alan", "root")
    ]
    rows = delivered(sessions)
    assert [row.recipient for row in rows] == [
        "alan@desk.example",
        "grace@desk.example",
        "root@desk.example",
    ]
    alan = rows[0]
    assert (alan.channel, alan.kind, alan.ticket_id, alan.message_id) == (
        "email",
        "notification",
        None,
        None,
    )
    assert alan.payload == {
        "type": "stuck_items",
        "agent_id": people["alan"],
        "subject": "2 inbound items parked",
        "body": "item 4 ...",
    }
    assert alan.idempotency_key == f"stuck_items:{people['alan']}:2026-03-02T07:00:00"


def test_a_user_is_told_on_the_channel_they_chose_and_as_their_types_say(
    sessions: sessionmaker[Session], people: dict[str, int]
):
    with sessions.begin() as session:
        session.add(AgentSettings(user_id=people["grace"], notification_channel="slack"))
        session.add(
            UserOAuthAccount(
                user_id=people["grace"], provider="slack", provider_user_id=f"{TEAM_ID}:U0GRACE"
            )
        )
        session.add(AgentSettings(user_id=people["alan"], notification_types={"digest": False}))
    digest = Notice("digest", "3 assigned to you", "New: ...", AT)

    assert give(sessions, [people["grace"], people["alan"]], digest) == 1

    (row,) = delivered(sessions)
    assert (row.channel, row.recipient) == ("slack", f"{TEAM_ID}:U0GRACE")
    # Alan turned digests off: listed, not delivered.
    assert [user_id for user_id, *_rest in listed(sessions)] == sorted(
        [people["grace"], people["alan"]]
    )


def test_the_desks_defaults_decide_for_those_who_chose_nothing(
    sessions: sessionmaker[Session], people: dict[str, int]
):
    quiet = NotificationSettings(deliver=["ticket_created"])

    assert give(sessions, [people["root"]], settings=quiet) == 0

    assert len(listed(sessions)) == 1


def test_a_notice_given_again_writes_and_delivers_nothing_twice(
    sessions: sessionmaker[Session], people: dict[str, int]
):
    assert give(sessions, [people["grace"]]) == 1

    assert give(sessions, [people["grace"], people["root"]]) == 1

    assert [user_id for user_id, *_rest in listed(sessions)] == sorted(
        [people["grace"], people["root"]]
    )
    assert len(delivered(sessions)) == 2
