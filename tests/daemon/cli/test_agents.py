"""``threadline users deactivate|activate|set-role|departments|notify-types`` and
``threadline notifications list|read`` on each database."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline, columns
from threadline.core.models import (
    AgentSettings,
    Client,
    Message,
    Notification,
    Ticket,
    User,
    ticket_assignments,
    user_departments,
)


def desk(threadline: Threadline, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Two agents of Support; a ticket of Grace's, open; its id, and theirs."""
    assert threadline("departments", "add", "Support").exit_code == 0
    for name, address in (("Grace", "grace@desk.example"), ("Alan", "alan@desk.example")):
        added = threadline("users", "add", name, address, "--department", "Support")
        assert added.exit_code == 0, added.output
    with sessions.begin() as session:
        ids = dict(session.execute(select(User.email, User.id)).all())
        client = Client(name="Ada")
        session.add(client)
        session.flush()
        ticket = Ticket(title="Printer", client_id=client.id, department_id=1, status="open")
        session.add(ticket)
        session.flush()
        session.execute(
            ticket_assignments.insert().values(
                ticket_id=ticket.id, user_id=ids["grace@desk.example"]
            )
        )
        for agent in ("grace@desk.example", "alan@desk.example"):
            session.add(
                Notification(
                    user_id=ids[agent],
                    ticket_id=ticket.id,
                    type="ticket_created",
                    content="Ada: Printer",
                )
            )
        return {**ids, "ticket": ticket.id}


def test_deactivating_hands_the_tickets_on_and_activating_brings_the_agent_back(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    ids = desk(threadline, sessions)

    done = threadline("users", "deactivate", "grace@desk.example")

    assert done.exit_code == 0, done.output
    assert done.output == (
        f"grace@desk.example deactivated\n  ticket {ids['ticket']}: now with user "
        f"{ids['alan@desk.example']}\n"
    )
    with sessions() as session:
        assert session.scalars(select(ticket_assignments.c.user_id)).all() == [
            ids["alan@desk.example"]
        ]
        assert session.get(AgentSettings, ids["grace@desk.example"]).active is False
        note = session.scalars(select(Message.body).where(Message.is_system_message)).one()
    assert note == "Reassigned from Grace to Alan: Grace was deactivated."

    assert (
        threadline("users", "activate", "grace@desk.example").output
        == "grace@desk.example active\n"
    )
    with sessions() as session:
        assert session.get(AgentSettings, ids["grace@desk.example"]).active is True


def test_role_departments_and_notification_types_of_a_user(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    ids = desk(threadline, sessions)
    assert threadline("departments", "add", "Sales").exit_code == 0

    assert threadline("users", "set-role", "alan@desk.example", "administrator").exit_code == 0
    moved = threadline("users", "departments", "alan@desk.example", "Sales")
    assert moved.output == "alan@desk.example works for Sales\n"
    chosen = threadline(
        "users", "notify-types", "grace@desk.example", "--off", "client_replied", "--on", "digest"
    )
    assert chosen.output == "grace@desk.example: digest on, client_replied off\n"
    refused = threadline("users", "notify-types", "grace@desk.example", "--off", "gossip")
    assert refused.exit_code == 2
    assert "gossip" in refused.output

    with sessions() as session:
        assert session.get(User, ids["alan@desk.example"]).type == "administrator"
        assert session.execute(
            select(user_departments.c.department_id).where(
                user_departments.c.user_id == ids["alan@desk.example"]
            )
        ).scalars().all() == [2]
        assert session.get(AgentSettings, ids["grace@desk.example"]).notification_types == {
            "digest": True,
            "client_replied": False,
        }
    assert threadline("users", "notify-types", "grace@desk.example", "--reset").exit_code == 0
    with sessions() as session:
        assert session.get(AgentSettings, ids["grace@desk.example"]).notification_types is None


def test_notifications_are_listed_per_user_and_marked_read(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    desk(threadline, sessions)

    listed = threadline("notifications", "list", "--user", "grace@desk.example", "--unread")
    table = columns(listed.output)
    assert table[0] == ["ID", "USER", "TICKET", "TYPE", "READ", "CREATED", "CONTENT"]
    assert [row[1:5] for row in table[1:]] == [["grace@desk.example", "1", "ticket_created", "no"]]

    assert (
        threadline("notifications", "read", table[1][0]).output
        == f"notification {table[1][0]} read\n"
    )
    assert (
        "no notifications match"
        in threadline("notifications", "list", "--user", "grace@desk.example", "--unread").output
    )
    assert threadline("notifications", "read", "--all").output == "1 notification read\n"
    everything = json.loads(threadline("notifications", "list", "--format", "json").output)
    assert [n["is_read"] for n in everything] == [True, True]
    assert threadline("notifications", "read").exit_code == 2
