"""Auto-close through the real pipeline and the job, on both databases, with an injected clock:
the notice goes once on the client's own channel, the close follows, a client's answer cancels
and an agent's next reply starts again, an out-of-office answer cancels nothing, and a client
who cannot be told is left ``unresolved`` rather than closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import SLACK_TRAITS, WHATSAPP_TRAITS, email, whatsapp
from tests.support.outbox import RecordingSender
from threadline.core.admin.users import add_user
from threadline.core.auto_close import AutoCloseRun, auto_close
from threadline.core.models import Message, Notification, OutboxItem, Reminder, Ticket, User
from threadline.core.normalized import Classification, Inbound, SenderIdentity, ThreadHints
from threadline.core.schedule_settings import AutoCloseSettings
from threadline.core.settings import NotificationSettings
from threadline.core.tokens import ReplyToken
from threadline.daemon import channels

GRACE = "grace@desk.example"
ADA = "ada@client.example"
SETTINGS = AutoCloseSettings(enabled=True, notice_days=7, close_days=3, message="Still there?")
NOTIFICATIONS = NotificationSettings(coalesce_seconds=0)
TRAITS = {**channels.traits(), "whatsapp": WHATSAPP_TRAITS, "slack": SLACK_TRAITS}
"""The traits the desk pipeline runs with."""
START = datetime(2026, 3, 2, 9, 0)
JUST = timedelta(minutes=1)


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_user(session, "Grace", GRACE)
    desk = desk_pipeline(sessions, notifications=NOTIFICATIONS)
    desk.clock.now = START
    return desk


def client_writes(desk: DeskPipeline, own_id: str, *, reply_to: str | None = None, **kw) -> int:
    inbound = email(ADA, own_id, in_reply_to=(reply_to,) if reply_to else ())
    outcome = desk.deliver(replace(inbound, **kw))
    assert outcome.status == "done"
    with desk.sessions() as session:
        return session.get(Message, outcome.message_id).ticket_id


def agent_replies(
    desk: DeskPipeline, ticket_id: int, own_id: str, body: str = "Try this"
) -> datetime:
    """The time of the reply: when the waiting begins."""
    with desk.sessions() as session:
        user_id = session.scalars(select(User.id).where(User.email == GRACE)).one()
    token = desk.signer.sign(ReplyToken(ticket_id, user_id))
    assert desk.deliver(email(GRACE, own_id, body=body, reply_token=token)).status == "done"
    return desk.clock.now


def run(desk: DeskPipeline, at: datetime, settings: AutoCloseSettings = SETTINGS) -> AutoCloseRun:
    """A fresh call, as after a restart: the job keeps nothing between calls."""
    desk.clock.now = at
    return auto_close(desk.sessions, settings, NOTIFICATIONS, TRAITS, at)


def ticket(desk: DeskPipeline, ticket_id: int) -> Ticket:
    with desk.sessions() as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def notices(desk: DeskPipeline, ticket_id: int) -> list[OutboxItem]:
    with desk.sessions() as session:
        return list(
            session.scalars(
                select(OutboxItem)
                .where(OutboxItem.ticket_id == ticket_id, OutboxItem.kind == "acknowledgement")
                .order_by(OutboxItem.id)
            )
        )


def system_lines(desk: DeskPipeline, ticket_id: int) -> list[tuple[str, bool, str | None]]:
    """(body, internal, channel) of the desk's own messages on the ticket."""
    with desk.sessions() as session:
        found = session.execute(
            select(Message.body, Message.is_internal, Message.channel)
            .where(Message.ticket_id == ticket_id, Message.is_system_message.is_(True))
            .order_by(Message.id)
        )
        return [tuple(row) for row in found]


def told(desk: DeskPipeline, ticket_id: int) -> list[str]:
    with desk.sessions() as session:
        return list(
            session.scalars(
                select(Notification.content)
                .where(Notification.ticket_id == ticket_id, Notification.type == "status_changed")
                .order_by(Notification.id)
            )
        )


def test_the_client_is_told_once_after_notice_days_and_the_ticket_closes_after_close_days(
    desk: DeskPipeline,
):
    ticket_id = client_writes(desk, "root@client")
    desk.clock.now = START + timedelta(hours=1)
    since = agent_replies(desk, ticket_id, "r1@desk", f"#assign {GRACE}\nTry this")
    noticed_at = since + timedelta(days=7)

    assert run(desk, noticed_at - JUST) == AutoCloseRun(0, 0, 0)
    assert run(desk, noticed_at) == AutoCloseRun(1, 0, 0)
    assert run(desk, noticed_at) == AutoCloseRun(0, 0, 0)
    assert run(desk, noticed_at + JUST) == AutoCloseRun(0, 0, 0)

    (notice,) = notices(desk, ticket_id)
    assert (notice.channel, notice.recipient, notice.payload["body"]) == (
        "email",
        ADA,
        "Still there?",
    )
    assert system_lines(desk, ticket_id) == [("Still there?", False, "email")]
    assert notice.message_id is not None
    assert ticket(desk, ticket_id).status == "waiting_for_user"

    closes_at = noticed_at + timedelta(days=3)
    assert run(desk, closes_at - JUST) == AutoCloseRun(0, 0, 0)
    assert run(desk, closes_at) == AutoCloseRun(0, 1, 0)
    assert run(desk, closes_at + timedelta(days=30)) == AutoCloseRun(0, 0, 0)

    closed = ticket(desk, ticket_id)
    assert (closed.status, closed.closed_at) == ("closed", closes_at)
    note_body, internal, channel = system_lines(desk, ticket_id)[-1]
    assert note_body.startswith("Closed automatically: the client has not answered since")
    assert (internal, channel) == (True, None)
    assert len(notices(desk, ticket_id)) == 1
    assert told(desk, ticket_id) == [f"#{ticket_id} Help: waiting_for_user -> closed automatically"]
    with desk.sessions() as session:
        kinds = session.scalars(
            select(Reminder.kind).where(Reminder.ticket_id == ticket_id).order_by(Reminder.kind)
        ).all()
    assert kinds == ["auto_close", "auto_close_notice"]


def test_a_client_answer_cancels_and_the_next_agent_reply_starts_a_new_period(
    desk: DeskPipeline,
):
    ticket_id = client_writes(desk, "root@client")
    first = agent_replies(desk, ticket_id, "r1@desk")
    assert run(desk, first + timedelta(days=7)) == AutoCloseRun(1, 0, 0)

    desk.clock.now = first + timedelta(days=8)
    client_writes(desk, "answer@client", reply_to="r1@desk")
    assert ticket(desk, ticket_id).status == "waiting_for_agent"
    assert run(desk, first + timedelta(days=30)) == AutoCloseRun(0, 0, 0)
    assert ticket(desk, ticket_id).status == "waiting_for_agent"

    desk.clock.now = first + timedelta(days=31)
    second = agent_replies(desk, ticket_id, "r2@desk")
    assert run(desk, second + timedelta(days=7) - JUST) == AutoCloseRun(0, 0, 0)
    assert run(desk, second + timedelta(days=7)) == AutoCloseRun(1, 0, 0)
    assert len(notices(desk, ticket_id)) == 2
    assert run(desk, second + timedelta(days=10)) == AutoCloseRun(0, 1, 0)
    assert ticket(desk, ticket_id).status == "closed"


def test_an_answer_before_the_notice_postpones_nothing_but_ends_the_period(desk: DeskPipeline):
    ticket_id = client_writes(desk, "root@client")
    first = agent_replies(desk, ticket_id, "r1@desk")
    desk.clock.now = first + timedelta(days=2)
    client_writes(desk, "answer@client", reply_to="r1@desk")

    assert run(desk, first + timedelta(days=20)) == AutoCloseRun(0, 0, 0)
    assert notices(desk, ticket_id) == []


def test_an_out_of_office_answer_cancels_nothing(desk: DeskPipeline):
    ticket_id = client_writes(desk, "root@client")
    since = agent_replies(desk, ticket_id, "r1@desk")
    desk.clock.now = since + timedelta(hours=1)
    client_writes(desk, "ooo1@client", reply_to="r1@desk", classification=Classification.AUTO_REPLY)
    assert run(desk, since + timedelta(days=7)) == AutoCloseRun(1, 0, 0)

    desk.clock.now = since + timedelta(days=7, hours=1)
    client_writes(desk, "ooo2@client", reply_to="r1@desk", classification=Classification.AUTO_REPLY)
    assert ticket(desk, ticket_id).status == "waiting_for_user"
    assert run(desk, since + timedelta(days=10)) == AutoCloseRun(0, 1, 0)
    assert ticket(desk, ticket_id).status == "closed"


def test_the_notice_goes_on_the_channel_the_client_last_wrote_from(desk: DeskPipeline):
    outcome = desk.deliver(whatsapp("+4915112345678", "My order is late", "wa-1"))
    with desk.sessions() as session:
        ticket_id = session.get(Message, outcome.message_id).ticket_id
    since = agent_replies(desk, ticket_id, "r1@desk")

    assert run(desk, since + timedelta(days=7)) == AutoCloseRun(1, 0, 0)

    (notice,) = notices(desk, ticket_id)
    assert (notice.channel, notice.recipient) == ("whatsapp", "+4915112345678")
    assert system_lines(desk, ticket_id)[-1] == ("Still there?", False, "whatsapp")


def test_the_notice_reaches_the_clients_sender(desk: DeskPipeline):
    ticket_id = client_writes(desk, "root@client")
    since = agent_replies(desk, ticket_id, "r1@desk")
    run(desk, since + timedelta(days=7))
    sender = RecordingSender()
    desk.dispatch(sender)

    sent = [(item.kind, item.recipient, item.payload["body"]) for item in sender.sent]
    assert ("acknowledgement", ADA, "Still there?") in sent
    (notice,) = notices(desk, ticket_id)
    assert notice.status == "sent"


def test_a_client_who_cannot_be_told_leaves_the_ticket_unresolved(desk: DeskPipeline):
    fax = Inbound(
        channel="fax",
        sender=SenderIdentity("phone", "+4930123456"),
        reply_text="Please call me",
        full_text="Please call me",
        hints=ThreadHints(own_id="fax-1", threadless=True),
    )
    outcome = desk.deliver(fax)
    with desk.sessions() as session:
        ticket_id = session.get(Message, outcome.message_id).ticket_id
    since = agent_replies(desk, ticket_id, "r1@desk")
    assert ticket(desk, ticket_id).status == "waiting_for_user"

    assert run(desk, since + timedelta(days=7)) == AutoCloseRun(0, 0, 1)
    assert run(desk, since + timedelta(days=20)) == AutoCloseRun(0, 0, 0)

    assert ticket(desk, ticket_id).status == "unresolved"
    assert notices(desk, ticket_id) == []
    body, internal, _channel = system_lines(desk, ticket_id)[-1]
    assert body == (
        "Set unresolved instead of closing automatically: the client has no fax address, so "
        "they cannot be told that the ticket will close."
    )
    assert internal
    assert told(desk, ticket_id) == [
        f"#{ticket_id} Please call me: waiting_for_user -> unresolved "
        "(the client has no fax address)"
    ]


def test_nothing_happens_while_auto_close_is_off(desk: DeskPipeline):
    ticket_id = client_writes(desk, "root@client")
    since = agent_replies(desk, ticket_id, "r1@desk")

    off = SETTINGS.model_copy(update={"enabled": False})
    assert run(desk, since + timedelta(days=365), off) == AutoCloseRun(0, 0, 0)
    assert ticket(desk, ticket_id).status == "waiting_for_user"
