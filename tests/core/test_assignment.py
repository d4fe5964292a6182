"""Assignment rules (L1 when a ticket opens), ``#escalate`` to L2, and agents who come and go,
through the pipeline on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from threadline.core.admin.agents import Desk, deactivate, set_active
from threadline.core.admin.clients import add_client
from threadline.core.admin.departments import add_department
from threadline.core.admin.users import add_user, user_by_email
from threadline.core.models import (
    Client,
    Message,
    Notification,
    OutboxItem,
    Ticket,
    User,
    ticket_assignments,
)
from threadline.core.settings import (
    AssignmentRule,
    AssignmentSettings,
    NotificationSettings,
    RoutingSettings,
)
from threadline.core.tokens import ReplyToken
from threadline.daemon import channels

GRACE, ALAN, EDSGER = "grace@desk.example", "alan@desk.example", "edsger@desk.example"
RULES = AssignmentSettings(
    rules=[
        AssignmentRule(client="email:*@retired.example", l1=EDSGER, active=False),
        AssignmentRule(client="email:*@bigcorp.example", l1=GRACE, l2="Second line"),
        AssignmentRule(data={"plan": "enterprise"}, l1="First line", l2=ALAN),
    ]
)


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_department(session, "First line")
        add_department(session, "Second line")
        add_user(session, "Grace", GRACE, departments=["First line"])
        add_user(session, "Alan", ALAN, departments=["Second line"])
        add_user(session, "Edsger", EDSGER, departments=["First line"])
    return desk_pipeline(
        sessions, routing=RoutingSettings(assignment="round_robin"), assignment=RULES
    )


def assignees(desk: DeskPipeline, ticket_id: int) -> set[str]:
    with desk.sessions() as session:
        return set(
            session.scalars(
                select(User.email)
                .join(ticket_assignments, ticket_assignments.c.user_id == User.id)
                .where(ticket_assignments.c.ticket_id == ticket_id)
            )
        )


def ticket_from(desk: DeskPipeline, sender: str, own_id: str) -> int:
    outcome = desk.deliver(email(sender, own_id, subject="Invoices"))
    with desk.sessions() as session:
        return session.get(Message, outcome.message_id).ticket_id


def agent_says(desk: DeskPipeline, ticket_id: int, agent: str, body: str, own_id: str):
    with desk.sessions() as session:
        agent_id = user_by_email(session, agent).id
    token = desk.signer.sign(ReplyToken(ticket_id, agent_id))
    return desk.deliver(email(agent, own_id, body=body, reply_token=token))


def notified(desk: DeskPipeline, kind: str) -> list[tuple[str, str]]:
    """(recipient, type) of the deliveries of ``kind``."""
    with desk.sessions() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.kind == "notification"))
        return sorted(
            (row.recipient, row.payload["type"]) for row in rows if row.payload["type"] == kind
        )


def test_a_rule_on_the_clients_address_gives_the_ticket_to_its_first_line(desk: DeskPipeline):
    ticket_id = ticket_from(desk, "cfo@bigcorp.example", "b1@mail")
    assert assignees(desk, ticket_id) == {GRACE}
    # Only Grace hears of it, and the rule before it, inactive, matched nothing.
    assert notified(desk, "ticket_created") == [(GRACE, "ticket_created")]
    retired = ticket_from(desk, "old@retired.example", "r1@mail")
    assert assignees(desk, retired) == set()


def test_a_rule_on_a_client_data_field_gives_the_ticket_to_a_department_in_turn(
    desk: DeskPipeline,
):
    with desk.sessions.begin() as session:
        for name in ("ada", "bob"):
            added = add_client(session, name, [("email", f"{name}@corp.example")], "")
            session.get(Client, added.id).data = {"plan": "enterprise"}
    first = ticket_from(desk, "ada@corp.example", "e1@mail")
    second = ticket_from(desk, "bob@corp.example", "e2@mail")
    with desk.sessions() as session:
        departments = {session.get(Ticket, t).department_id for t in (first, second)}
    assert len(departments) == 1
    assert assignees(desk, first) | assignees(desk, second) == {GRACE, EDSGER}


def test_escalate_hands_the_ticket_to_the_second_line_notes_it_and_tells_them(
    desk: DeskPipeline,
):
    ticket_id = ticket_from(desk, "cfo@bigcorp.example", "b1@mail")
    outcome = agent_says(desk, ticket_id, GRACE, "#escalate they threaten to leave", "x@mail")

    assert assignees(desk, ticket_id) == {ALAN}
    with desk.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket.custom_fields == {"escalation_level": 2}
        assert ticket.department_id is not None
        notes = session.scalars(
            select(Message.body).where(Message.is_system_message, Message.ticket_id == ticket_id)
        ).all()
        reply = session.get(Message, outcome.message_id)
        assert reply.is_internal
        sent = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all()
        assert sent == []
    assert notes == [
        f"Escalated to the second line (Second line) by {GRACE}: they threaten to leave"
    ]
    assert notified(desk, "escalated") == [(ALAN, "escalated")]

    again = agent_says(desk, ticket_id, ALAN, "#escalate", "y@mail")
    assert again.status == "done"
    assert notified(desk, "command_failed") == [(ALAN, "command_failed")]


def test_escalate_without_a_second_line_changes_nothing_and_says_why(desk: DeskPipeline):
    ticket_id = ticket_from(desk, "someone@example.org", "s1@mail")
    agent_says(desk, ticket_id, GRACE, f"#assign {GRACE}", "a@mail")
    agent_says(desk, ticket_id, GRACE, "#escalate", "e@mail")
    assert assignees(desk, ticket_id) == {GRACE}
    with desk.sessions() as session:
        notes = session.scalars(
            select(Message.body).where(Message.is_system_message, Message.ticket_id == ticket_id)
        ).all()
    assert any("no active [[assignment.rules]] with an l2" in note for note in notes)
    assert notified(desk, "command_failed") == [(GRACE, "command_failed")]


def test_round_robin_never_picks_a_deactivated_agent(desk: DeskPipeline):
    with desk.sessions.begin() as session:
        set_active(session, user_by_email(session, EDSGER), False)
    routed = desk_pipeline(
        desk.sessions,
        routing=RoutingSettings(default_department="First line", assignment="round_robin"),
    )
    tickets = [ticket_from(routed, f"c{n}@example.org", f"rr{n}@mail") for n in range(3)]
    assert [assignees(desk, t) for t in tickets] == [{GRACE}] * 3
    # Nor is told of tickets.
    with desk.sessions() as session:
        edsger = user_by_email(session, EDSGER).id
        assert (
            session.scalars(select(Notification).where(Notification.user_id == edsger)).all() == []
        )


@pytest.mark.parametrize("reassign", [True, False])
def test_deactivating_an_agent_hands_their_open_tickets_on_each_with_a_note(
    sessions: sessionmaker[Session], reassign: bool
):
    with sessions.begin() as session:
        add_department(session, "Support")
        add_user(session, "Grace", GRACE, departments=["Support"])
        add_user(session, "Alan", ALAN, departments=["Support"])
    routing = RoutingSettings(default_department="Support", assignment="round_robin")
    desk = desk_pipeline(sessions, routing=routing)
    open_one, other, closed = (
        ticket_from(desk, f"c{n}@example.org", f"d{n}@mail") for n in range(3)
    )
    with sessions.begin() as session:
        for ticket_id in (open_one, other, closed):
            session.execute(
                ticket_assignments.delete().where(ticket_assignments.c.ticket_id == ticket_id)
            )
            session.execute(
                ticket_assignments.insert().values(
                    ticket_id=ticket_id, user_id=user_by_email(session, GRACE).id
                )
            )
        session.get(Ticket, closed).status = "closed"

    settings = Desk(
        routing,
        AssignmentSettings(reassign_on_deactivate=reassign),
        NotificationSettings(),
        channels.traits(),
    )
    with sessions.begin() as session:
        handed = deactivate(session, GRACE, settings, desk.clock.now)

    with sessions() as session:
        alan = user_by_email(session, ALAN).id
    assert [(h.ticket_id, h.to) for h in handed] == [
        (open_one, alan if reassign else None),
        (other, alan if reassign else None),
    ]
    assert assignees(desk, open_one) == ({ALAN} if reassign else set())
    assert assignees(desk, closed) == {GRACE}
    with sessions() as session:
        note = session.scalars(
            select(Message.body).where(Message.is_system_message, Message.ticket_id == open_one)
        ).one()
    if reassign:
        assert note == "Reassigned from Grace to Alan: Grace was deactivated."
        assert notified(desk, "ticket_assigned") == [(ALAN, "ticket_assigned")] * 2
    else:
        assert note == "Left unassigned: Grace was deactivated."
        assert notified(desk, "ticket_assigned") == []
