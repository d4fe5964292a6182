"""Agents' digests: when each agent's cron fires where they work, once per fire time across
repeated and restarted runs, nothing on days off or for nobody's tickets, and what they list,
delivered as mail through the real email sender; on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.smtp_sink import HOST, SmtpSink
from threadline.channels.email.compose import NOTICE_FOOTER
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smarthost import EmailSender
from threadline.core.admin.users import add_user
from threadline.core.digest import send_digests
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import (
    AgentSettings,
    Client,
    Notification,
    OutboxItem,
    SlaClock,
    Ticket,
    ticket_assignments,
)
from threadline.core.schedule_settings import DigestSettings
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings, NotificationSettings
from threadline.core.tokens import TokenSigner
from threadline.daemon import channels

GRACE = "grace@desk.example"
MONDAY_8_IN_BERLIN = datetime(2026, 3, 2, 7, 0)
"""08:00 in Berlin in winter (CET, UTC+1), as a naive UTC tick."""
MINUTE = timedelta(minutes=1)
DIGESTS = DigestSettings()


@pytest.fixture
def grace(sessions: sessionmaker[Session]) -> int:
    """An agent in Berlin on the desk's schedule (``0 8 * * mon-fri``)."""
    with sessions.begin() as session:
        user_id = add_user(session, "Grace Hopper", GRACE).id
        session.add(AgentSettings(user_id=user_id, time_zone="Europe/Berlin"))
    return user_id


def ticket(
    sessions: sessionmaker[Session],
    title: str,
    holder: int | None,
    status: str = "open",
    priority: str = "medium",
    due_at: datetime | None = None,
) -> int:
    """A ticket assigned to ``holder``, with an SLA clock due at ``due_at``."""
    with sessions.begin() as session:
        client = Client(name="Ada Lovelace")
        session.add(client)
        session.flush()
        row = Ticket(title=title, client_id=client.id, status=status, priority=priority)
        session.add(row)
        session.flush()
        if holder is not None:
            session.execute(insert(ticket_assignments).values(ticket_id=row.id, user_id=holder))
        if due_at is not None:
            session.add(SlaClock(ticket_id=row.id, target="first_response", due_at=due_at))
        return row.id


def run(sessions: sessionmaker[Session], tick: datetime, last_tick: datetime | None = None) -> int:
    """One run of the every-minute job; without ``last_tick``, the one a minute before."""
    return send_digests(
        sessions,
        DIGESTS,
        NotificationSettings(),
        channels.traits(),
        last_tick or tick - MINUTE,
        tick,
    )


def outbox(sessions: sessionmaker[Session]) -> list[OutboxItem]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def test_an_agent_in_berlin_gets_one_digest_at_eight_their_time(
    sessions: sessionmaker[Session], grace: int
):
    ticket(sessions, "Printer on fire", grace)

    assert run(sessions, MONDAY_8_IN_BERLIN - MINUTE) == 0
    assert run(sessions, MONDAY_8_IN_BERLIN) == 1
    # The same tick again, a later tick, a first run after a restart: nothing more.
    assert run(sessions, MONDAY_8_IN_BERLIN) == 0
    assert run(sessions, MONDAY_8_IN_BERLIN + MINUTE) == 0
    assert (
        send_digests(
            sessions, DIGESTS, NotificationSettings(), channels.traits(), None, MONDAY_8_IN_BERLIN
        )
        == 0
    )

    (row,) = outbox(sessions)
    assert (row.kind, row.recipient, row.ticket_id) == ("notification", GRACE, None)
    assert row.idempotency_key == f"digest:{grace}:2026-03-02T07:00:00"
    with sessions() as session:
        (listed,) = session.execute(select(Notification.type, Notification.ticket_id))
    assert tuple(listed) == ("digest", None)


def test_a_run_after_downtime_sends_what_fired_meanwhile_once(
    sessions: sessionmaker[Session], grace: int
):
    ticket(sessions, "Printer on fire", grace)
    down_at = MONDAY_8_IN_BERLIN - timedelta(minutes=20)
    back_at = MONDAY_8_IN_BERLIN + timedelta(minutes=25)

    assert run(sessions, back_at, last_tick=down_at) == 1
    assert run(sessions, back_at + MINUTE) == 0
    assert len(outbox(sessions)) == 1


def test_nothing_on_saturday(sessions: sessionmaker[Session], grace: int):
    ticket(sessions, "Printer on fire", grace)
    saturday = MONDAY_8_IN_BERLIN + timedelta(days=5)

    assert run(sessions, saturday) == 0
    assert outbox(sessions) == []


def test_nothing_for_an_agent_whose_tickets_are_all_closed(
    sessions: sessionmaker[Session], grace: int
):
    ticket(sessions, "Solved", grace, status="closed")
    ticket(sessions, "Someone else's", None)

    assert run(sessions, MONDAY_8_IN_BERLIN) == 0
    with sessions() as session:
        assert session.scalars(select(Notification)).all() == []


def test_an_agents_own_schedule_wins_and_off_sends_none(
    sessions: sessionmaker[Session], grace: int
):
    with sessions.begin() as session:
        alan = add_user(session, "Alan Turing", "alan@desk.example").id
        quiet = add_user(session, "Quiet One", "quiet@desk.example").id
        gone = add_user(session, "Gone Away", "gone@desk.example").id
        session.add(AgentSettings(user_id=alan, digest="30 17 * * *", time_zone="America/New_York"))
        session.add(AgentSettings(user_id=quiet, digest="off"))
        session.add(AgentSettings(user_id=gone, active=False))
        session.get(AgentSettings, grace).digest = "0 9 * * *"
    for holder in (grace, alan, quiet, gone):
        ticket(sessions, "Printer on fire", holder)

    # 08:00 UTC is 09:00 in Berlin; 22:30 UTC is 17:30 in New York (EST, UTC-5).
    assert run(sessions, datetime(2026, 3, 2, 8, 0)) == 1
    assert run(sessions, datetime(2026, 3, 2, 22, 30)) == 1
    assert [row.recipient for row in outbox(sessions)] == [GRACE, "alan@desk.example"]


def test_the_digest_mail_lists_the_agents_tickets_by_group_overdue_first(
    sessions: sessionmaker[Session], grace: int, sink: SmtpSink
):
    late = MONDAY_8_IN_BERLIN - timedelta(hours=1)
    new = ticket(sessions, "Printer on fire", grace, priority="high")
    waiting = ticket(sessions, "Refund please", grace, status="waiting_for_agent")
    asked = ticket(sessions, "Which model?", grace, status="waiting_for_user")
    overdue = ticket(sessions, "Server down", grace, "waiting_for_agent", "urgent", due_at=late)
    soon = ticket(sessions, "Not yet due", grace, due_at=MONDAY_8_IN_BERLIN + timedelta(hours=1))
    ticket(sessions, "Solved", grace, status="closed")
    ticket(sessions, "Alan's", None)

    assert run(sessions, MONDAY_8_IN_BERLIN) == 1
    senders = SenderRegistry()
    senders.register(
        "email",
        EmailSender(
            sessions,
            TokenSigner("digest-test-secret"),
            EmailSettings(address="Desk Support <support@desk.example>"),
            SmarthostSettings(host=HOST, port=sink.port, timeout=5.0),
        ),
    )
    assert Dispatcher(sessions, senders, DispatchSettings()).run_batch() == 1

    (received,) = sink.received
    mail = received.message
    assert received.rcpt_tos == (GRACE,)
    assert mail["Subject"] == "Your tickets: 5 assigned to you, 1 overdue"
    assert mail["Reply-To"] is None
    assert mail["Auto-Submitted"] == "auto-generated"
    part = mail.get_body(("plain",))
    assert part is not None
    text = "\n".join(part.get_content().splitlines())
    assert text == (
        "Overdue:\n"
        f"  #{overdue} Server down (waiting_for_agent, urgent)\n"
        "\n"
        "New:\n"
        f"  #{new} Printer on fire (open, high)\n"
        f"  #{soon} Not yet due (open, medium)\n"
        "\n"
        "Waiting for you:\n"
        f"  #{waiting} Refund please (waiting_for_agent, medium)\n"
        "\n"
        "Waiting for the client:\n"
        f"  #{asked} Which model? (waiting_for_user, medium)\n"
        "\n"
        f"-- \n{NOTICE_FOOTER}"
    )
