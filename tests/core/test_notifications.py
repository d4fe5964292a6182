"""Every notification type an agent's commands and notes cause, written and delivered once,
per-type preferences, read state, replies held back, the acknowledgement kept on the ticket,
and the priority a mail carries; through the pipeline on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email
from threadline.core.admin.users import add_user
from threadline.core.models import (
    AgentSettings,
    Message,
    Notification,
    OutboxItem,
    Ticket,
    User,
)
from threadline.core.outcome import Outcome
from threadline.core.settings import (
    NotificationSettings,
    RouteRule,
    RoutingSettings,
    TicketSettings,
)
from threadline.core.tokens import ReplyToken

GRACE, ALAN = "grace@desk.example", "alan@desk.example"


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    with sessions.begin() as session:
        add_user(session, "Grace", GRACE)
        add_user(session, "Alan", ALAN)
    return desk_pipeline(sessions)


def user_id(desk: DeskPipeline, address: str) -> int:
    with desk.sessions() as session:
        return session.scalars(select(User.id).where(User.email == address)).one()


def new_ticket(desk: DeskPipeline, sender: str = "ada@example.com", **changes: object) -> int:
    outcome = desk.deliver(replace(email(sender, f"root-{sender}"), **changes))
    with desk.sessions() as session:
        return session.get(Message, outcome.message_id).ticket_id


def says(desk: DeskPipeline, ticket_id: int, agent: str, body: str, own_id: str) -> Outcome:
    token = desk.signer.sign(ReplyToken(ticket_id, user_id(desk, agent)))
    return desk.deliver(email(agent, own_id, body=body, reply_token=token))


def rows(desk: DeskPipeline, kind: str) -> list[tuple[str, bool]]:
    """(agent, read) of the notification rows of ``kind``."""
    with desk.sessions() as session:
        found = session.execute(
            select(User.email, Notification.is_read)
            .join(User, User.id == Notification.user_id)
            .where(Notification.type == kind)
            .order_by(Notification.id)
        )
        return [tuple(row) for row in found]


def deliveries(desk: DeskPipeline, kind: str) -> list[str]:
    with desk.sessions() as session:
        found = session.scalars(select(OutboxItem).where(OutboxItem.kind == "notification"))
        return sorted(row.recipient for row in found if row.payload["type"] == kind)


def test_assignment_status_and_notes_tell_the_other_agents_once_each(desk: DeskPipeline):
    ticket_id = new_ticket(desk)
    says(desk, ticket_id, GRACE, f"#assign {GRACE}\n#assign {ALAN}", "a@mail")
    # Grace assigned herself: only Alan is told he has it.
    assert (rows(desk, "ticket_assigned"), deliveries(desk, "ticket_assigned")) == (
        [(ALAN, False)],
        [ALAN],
    )

    assert says(desk, ticket_id, GRACE, "#note the customer is a VIP", "n@mail").status == "done"
    assert says(desk, ticket_id, GRACE, "#note the customer is a VIP", "n@mail").status == (
        "ignored"
    )
    assert deliveries(desk, "note_added") == [ALAN]

    says(desk, ticket_id, GRACE, "#close", "c@mail")
    assert deliveries(desk, "status_changed") == [ALAN]
    with desk.sessions() as session:
        (content,) = session.scalars(
            select(Notification.content).where(Notification.type == "status_changed")
        )
    assert content.endswith(f"waiting_for_agent -> closed by {GRACE}")
    # Grace wrote on the ticket each time: nothing she was told about it is unread.
    assert {read for agent, read in rows(desk, "ticket_created") if agent == GRACE} == {True}


def test_each_type_is_delivered_as_the_desk_and_each_agent_chose(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        add_user(session, "Grace", GRACE)
        alan = add_user(session, "Alan", ALAN)
        session.add(AgentSettings(user_id=alan.id, notification_types={"client_replied": True}))
    quiet = NotificationSettings(deliver=["ticket_created"])
    desk = desk_pipeline(sessions, notifications=quiet)

    new_ticket(desk)
    desk.deliver(email("ada@example.com", "more@mail", in_reply_to=("root-ada@example.com",)))

    assert deliveries(desk, "ticket_created") == [ALAN, GRACE]
    # Not delivered by default any more, but Alan asked for it; rows are written for both.
    assert deliveries(desk, "client_replied") == [ALAN]
    assert sorted(agent for agent, _read in rows(desk, "client_replied")) == [ALAN, GRACE]


def test_a_reply_opening_with_an_unknown_command_is_held_back_and_the_agent_told(
    desk: DeskPipeline,
):
    ticket_id = new_ticket(desk)
    outcome = says(desk, ticket_id, GRACE, "#escalte\nWe will call you back.", "x@mail")

    with desk.sessions() as session:
        held = session.get(Message, outcome.message_id)
        assert (held.is_internal, held.body) == (True, "#escalte\nWe will call you back.")
        assert session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all() == []
        note = session.scalars(
            select(Message.body).where(Message.is_system_message).order_by(Message.id.desc())
        ).first()
        assert session.get(Ticket, ticket_id).status == "open"
    assert note.startswith("Reply held back, not sent to the client: #escalte is no command")
    assert deliveries(desk, "command_failed") == [GRACE]
    # A #hashtag further down is text, as before.
    says(desk, ticket_id, GRACE, "Thanks!\n#blessed", "y@mail")
    with desk.sessions() as session:
        assert len(session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all()) == 1


def test_the_acknowledgement_is_kept_on_the_ticket_as_what_the_client_was_told(
    sessions: sessionmaker[Session],
):
    desk = desk_pipeline(sessions, tickets=TicketSettings(acknowledge_new_tickets=True))
    ticket_id = new_ticket(desk)
    with desk.sessions() as session:
        (row,) = session.scalars(select(OutboxItem).where(OutboxItem.kind == "acknowledgement"))
        told = session.get(Message, row.message_id)
    assert (told.ticket_id, told.is_system_message, told.is_internal) == (ticket_id, True, False)
    assert told.body.startswith(f"Thank you for your message. It is now ticket #{ticket_id},")
    assert row.payload["body"] == told.body


def test_a_mails_priority_and_its_routes_raise_the_ticket_and_nothing_lowers_it(
    sessions: sessionmaker[Session],
):
    routing = RoutingSettings(rules=[RouteRule(match="vip@desk.example", priority="high")])
    desk = desk_pipeline(sessions, routing=routing)
    urgent = new_ticket(desk, "ada@example.com", priority="urgent")
    desk.deliver(email("ada@example.com", "calm@mail", in_reply_to=("root-ada@example.com",)))
    vip = new_ticket(desk, "bob@example.com", receiving_address="vip@desk.example")
    plain = new_ticket(desk, "eve@example.com")
    desk.deliver(
        replace(
            email("eve@example.com", "eve2@mail", in_reply_to=("root-eve@example.com",)),
            priority="low",
        )
    )
    with desk.sessions() as session:
        priorities = [session.get(Ticket, t).priority for t in (urgent, vip, plain)]
    assert priorities == ["urgent", "high", "medium"]
