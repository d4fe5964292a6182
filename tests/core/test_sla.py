"""SLA clocks and their reminders, through the pipeline and the SLA job, on both databases,
with an injected clock: business hours, the pause while the client is asked, and warnings,
breaches and escalations that fire once however often (and by how many daemons) the job runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from threadline.core import sla as sla_module
from threadline.core.admin.departments import add_department
from threadline.core.admin.users import add_user, set_departments
from threadline.core.models import (
    AgentSettings,
    Message,
    Notification,
    OutboxItem,
    Reminder,
    SlaClock,
    Ticket,
    TicketTurn,
    User,
)
from threadline.core.normalized import Classification
from threadline.core.schedule_settings import CalendarSettings, SlaSettings, SlaTarget, calendars
from threadline.core.settings import (
    AssignmentRule,
    AssignmentSettings,
    NotificationSettings,
    RoutingSettings,
)
from threadline.core.sla import SlaDesk, run_sla
from threadline.core.tokens import ReplyToken
from threadline.daemon import channels

GRACE, ALAN, LIN = "grace@desk.example", "alan@desk.example", "lin@desk.example"
OFFICE = CalendarSettings(
    name="office",
    time_zone="Europe/Berlin",
    hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    holidays=[date(2026, 4, 3)],
)
SEED = SlaTarget(first_response=60, resolution=480)
"""The targets config.example.toml ships."""


def sla_desk(
    targets: list[SlaTarget], *, escalate: bool = False, warn: int = 15, department_after: int = 30
) -> SlaDesk:
    return SlaDesk(
        sla=SlaSettings(
            targets=targets,
            warn_minutes=warn,
            department_after_minutes=department_after,
            escalate_on_breach=escalate,
        ),
        calendars=calendars([OFFICE]),
        notifications=NotificationSettings(coalesce_seconds=0),
        traits=channels.traits(),
        routing=RoutingSettings(),
        assignment=ASSIGNMENT,
    )


ASSIGNMENT = AssignmentSettings(
    rules=[AssignmentRule(client="email:*@client.example", l1=GRACE, l2=ALAN)]
)


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_department(session, "Support", "")
        for name, address in (("Grace", GRACE), ("Alan", ALAN), ("Lin", LIN)):
            add_user(session, name, address)
        set_departments(session, LIN, ["Support"])
        set_departments(session, GRACE, ["Support"])
    return desk_pipeline(
        sessions,
        assignment=ASSIGNMENT,
        routing=RoutingSettings(default_department="Support"),
        notifications=NotificationSettings(coalesce_seconds=0),
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def client_writes(desk: DeskPipeline, own_id: str, *, reply_to: str | None = None, **kw) -> int:
    inbound = email("ada@client.example", own_id, in_reply_to=(reply_to,) if reply_to else ())
    outcome = desk.deliver(replace(inbound, **kw))
    with desk.sessions() as session:
        return session.get(Message, outcome.message_id).ticket_id


def agent_replies(
    desk: DeskPipeline, ticket_id: int, agent: str, own_id: str, body: str = "On it"
) -> None:
    with desk.sessions() as session:
        user_id = session.scalars(select(User.id).where(User.email == agent)).one()
    token = desk.signer.sign(ReplyToken(ticket_id, user_id))
    assert desk.deliver(email(agent, own_id, body=body, reply_token=token)).status == "done"


def clocks(desk: DeskPipeline, ticket_id: int) -> dict[str, datetime]:
    with desk.sessions() as session:
        found = session.execute(
            select(SlaClock.target, SlaClock.due_at).where(SlaClock.ticket_id == ticket_id)
        )
        return dict(found.all())


def tick(desk: DeskPipeline, sla: SlaDesk, when: str | None = None):
    if when is not None:
        desk.clock.now = at(when)
    return run_sla(desk.sessions, sla, desk.clock.now)


def told(desk: DeskPipeline, kind: str) -> list[str]:
    """Who got a row of ``kind``, in order."""
    with desk.sessions() as session:
        found = session.scalars(
            select(User.email)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.type == kind)
            .order_by(Notification.id)
        )
        return list(found)


def deliveries(desk: DeskPipeline, kind: str) -> list[tuple[str, datetime | None]]:
    with desk.sessions() as session:
        found = session.scalars(select(OutboxItem).where(OutboxItem.kind == "notification"))
        held = [
            (row.recipient, row.next_attempt_at) for row in found if row.payload["type"] == kind
        ]
        return sorted(held, key=lambda pair: (pair[0], pair[1] or datetime.min))


def test_due_times_count_business_hours_across_a_weekend_and_a_holiday(desk: DeskPipeline):
    office = SEED.model_copy(update={"calendar": "office"})
    sla = sla_desk([office])
    # Friday 2 Jan 2026, 16:30 in Berlin (15:30 UTC): half an hour left that day.
    desk.clock.now = at("2026-01-02T15:30:00")
    ticket_id = client_writes(desk, "root@client")
    assert tick(desk, sla).computed == 1
    assert clocks(desk, ticket_id) == {
        # Monday 09:30 Berlin.
        "first_response": at("2026-01-05T08:30:00"),
        # 480 minutes: 30 on Friday, 450 on Monday, from 09:00 to 16:30 Berlin.
        "resolution": at("2026-01-05T15:30:00"),
    }
    with desk.sessions() as session:
        shown = session.get(Ticket, ticket_id).custom_fields["sla"]
    assert shown == {
        "first_response_due": "2026-01-05T08:30:00Z",
        "resolution_due": "2026-01-05T15:30:00Z",
    }
    # Thursday 2 April, 16:00 Berlin (14:00 UTC, summer time): Good Friday is a holiday, so
    # the hour left runs out on Monday at 09:00 + 0:00 ... 10:00 Berlin.
    desk.clock.now = at("2026-04-02T14:30:00")
    holiday_ticket = client_writes(desk, "easter@client", subject="Easter")
    tick(desk, sla)
    assert clocks(desk, holiday_ticket)["first_response"] == at("2026-04-06T07:30:00")


def test_resolution_pauses_while_the_client_is_asked(desk: DeskPipeline):
    sla = sla_desk([SlaTarget(resolution=480, next_response=120)])
    desk.clock.now = at("2026-03-02T09:00:00")
    ticket_id = client_writes(desk, "root@client")
    tick(desk, sla)
    assert clocks(desk, ticket_id) == {"resolution": at("2026-03-02T17:00:00")}

    desk.clock.now = at("2026-03-02T10:00:00")
    agent_replies(desk, ticket_id, GRACE, "r1@desk")
    tick(desk, sla)
    # Waiting for the client: no clock runs, and the copy on the ticket says so.
    assert clocks(desk, ticket_id) == {}
    with desk.sessions() as session:
        assert "sla" not in (session.get(Ticket, ticket_id).custom_fields or {})

    # An out-of-office answer passes no turn: still paused.
    desk.clock.now = at("2026-03-02T10:05:00")
    client_writes(
        desk, "ooo@client", reply_to="root@client", classification=Classification.AUTO_REPLY
    )
    tick(desk, sla)
    assert clocks(desk, ticket_id) == {}

    # The client answers a day later: 7 hours left, and the next reply is due in 2.
    desk.clock.now = at("2026-03-03T10:00:00")
    client_writes(desk, "more@client", reply_to="root@client")
    tick(desk, sla)
    assert clocks(desk, ticket_id) == {
        "resolution": at("2026-03-03T17:00:00"),
        "next_response": at("2026-03-03T12:00:00"),
    }
    with desk.sessions() as session:
        sides = session.scalars(
            select(TicketTurn.side).where(TicketTurn.ticket_id == ticket_id).order_by(TicketTurn.at)
        ).all()
    assert sides == ["client", "agent", "client"]

    # Closing stops every clock.
    desk.clock.now = at("2026-03-03T11:00:00")
    agent_replies(desk, ticket_id, GRACE, "r2@desk", body="#close\nDone")
    tick(desk, sla)
    assert clocks(desk, ticket_id) == {}


def test_warning_breach_and_escalation_fire_once_across_restarts(desk: DeskPipeline):
    sla = sla_desk([SEED], escalate=True)
    desk.clock.now = at("2026-03-02T09:00:00")
    ticket_id = client_writes(desk, "root@client")
    # The rule gave the ticket to Grace (L1).
    tick(desk, sla, "2026-03-02T09:30:00")
    assert told(desk, "sla_warning") == []

    for _restart in range(2):
        tick(desk, sla, "2026-03-02T09:46:00")
    assert told(desk, "sla_warning") == [GRACE]
    assert deliveries(desk, "sla_warning") == [(GRACE, None)]

    for _restart in range(2):
        tick(desk, sla, "2026-03-02T10:00:30")
    # The breach goes to Grace and, with escalation on, the ticket to Alan (L2).
    assert told(desk, "sla_breached") == [GRACE]
    assert told(desk, "escalated") == [ALAN]
    with desk.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket.custom_fields["escalation_level"] == 2
        notes = session.scalars(
            select(Message.body).where(Message.ticket_id == ticket_id, Message.is_internal)
        ).all()
    assert [note.split(":")[0] for note in notes] == [
        "SLA",
        "SLA",
        "Escalated to the second line (alan@desk.example) by the SLA",
    ]

    # Half an hour on, the department's other agents hear of it: Lin (Grace was told).
    for _restart in range(2):
        tick(desk, sla, "2026-03-02T10:31:00")
    assert told(desk, "sla_breached") == [GRACE, LIN]
    with desk.sessions() as session:
        kinds = session.scalars(select(Reminder.kind).order_by(Reminder.kind)).all()
    assert kinds == ["first_response:breach", "first_response:department", "first_response:warning"]

    # The resolution target (480 minutes) still runs, and the first response no longer fires.
    tick(desk, sla, "2026-03-02T16:50:00")
    assert told(desk, "sla_warning") == [GRACE, ALAN]


def test_a_reply_stops_the_clock_before_its_warning(desk: DeskPipeline):
    sla = sla_desk([SlaTarget(first_response=60)])
    desk.clock.now = at("2026-03-02T09:00:00")
    ticket_id = client_writes(desk, "root@client")
    tick(desk, sla)
    desk.clock.now = at("2026-03-02T09:50:00")
    agent_replies(desk, ticket_id, GRACE, "r1@desk")
    # The job had not computed the reply yet: the warning due now must not go out.
    tick(desk, sla)
    assert told(desk, "sla_warning") == []
    assert clocks(desk, ticket_id) == {}


def test_reminders_wait_for_the_recipients_hours_unless_urgent(desk: DeskPipeline):
    sla = sla_desk([SEED], warn=0, department_after=0)
    with desk.sessions.begin() as session:
        grace = session.scalars(select(User.id).where(User.email == GRACE)).one()
        session.add(AgentSettings(user_id=grace, calendar="office"))
    # Saturday 7 March, 12:00 UTC; due at 13:00 on a weekend.
    desk.clock.now = at("2026-03-07T12:00:00")
    client_writes(desk, "root@client")
    desk.clock.now = at("2026-03-07T12:00:00")
    client_writes(desk, "urgent@client", subject="Down!", priority="urgent")
    tick(desk, sla, "2026-03-07T13:00:00")
    # Grace's calendar opens Monday 09:00 Berlin (08:00 UTC); the urgent ticket's goes now.
    # Lin has no calendar of her own, and the target counts around the clock.
    assert deliveries(desk, "sla_breached") == [
        (GRACE, None),
        (GRACE, at("2026-03-09T08:00:00")),
        (LIN, None),
        (LIN, None),
    ]
    # The rows are written at once either way.
    assert sorted(told(desk, "sla_breached")) == [GRACE, GRACE, LIN, LIN]


def test_targets_by_department_and_priority(desk: DeskPipeline):
    urgent = SlaTarget(department="Support", priority="urgent", first_response=15)
    sla = sla_desk([urgent, SlaTarget(department="Sales", first_response=30), SEED])
    desk.clock.now = at("2026-03-02T09:00:00")
    normal = client_writes(desk, "normal@client")
    pressing = client_writes(desk, "urgent@client", subject="Down", priority="urgent")
    tick(desk, sla)
    assert clocks(desk, normal)["first_response"] == at("2026-03-02T10:00:00")
    assert clocks(desk, pressing) == {"first_response": at("2026-03-02T09:15:00")}


def test_a_clock_waiting_for_its_next_stage_takes_no_room_from_one_due_now(
    desk: DeskPipeline, monkeypatch: pytest.MonkeyPatch
):
    """A tick looks at a bounded number of clocks: those with nothing due yet must not fill it."""
    monkeypatch.setattr(sla_module, "MAX_REMINDERS_PER_TICK", 1)
    sla = sla_desk([SlaTarget(first_response=60)], warn=0, department_after=30)
    desk.clock.now = at("2026-03-02T09:00:00")
    client_writes(desk, "first@client")
    desk.clock.now = at("2026-03-02T09:05:00")
    client_writes(desk, "second@client", subject="Another")
    tick(desk, sla, "2026-03-02T10:01:00")
    assert told(desk, "sla_breached") == [GRACE]
    # The first ticket's department stage is due at 10:30; the second's breach at 10:05.
    tick(desk, sla, "2026-03-02T10:06:00")
    assert told(desk, "sla_breached") == [GRACE, GRACE]
