"""Reading tickets: filtered lists newest first, and one ticket with its whole conversation."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk import Desk, build_desk
from threadline.core.admin.errors import InvalidInput, NotFound
from threadline.core.admin.tickets import Ref, list_tickets, show_ticket


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> Desk:
    with sessions.begin() as session:
        return build_desk(session)


def test_tickets_are_listed_newest_first(sessions: sessionmaker[Session], desk: Desk):
    with sessions() as session:
        listed = list_tickets(session)
    assert [t.id for t in listed] == [desk.conversation_id, desk.quiet_id]
    newest = listed[0]
    assert newest.client == Ref(desk.client_id, "Ada Lovelace")
    assert newest.department == Ref(desk.department_id, "Technical Support")
    assert listed[1].department is None


def test_tickets_are_filtered_by_status_client_and_department(
    sessions: sessionmaker[Session], desk: Desk
):
    with sessions() as session:
        assert [t.id for t in list_tickets(session, status="closed")] == [desk.quiet_id]
        assert [t.id for t in list_tickets(session, status="open")] == []
        assert [t.id for t in list_tickets(session, client_id=desk.other_client_id)] == [
            desk.quiet_id
        ]
        by_department = list_tickets(session, department="Technical Support")
        assert [t.id for t in by_department] == [desk.conversation_id]


def test_the_limit_keeps_the_newest_tickets(sessions: sessionmaker[Session], desk: Desk):
    with sessions() as session:
        assert [t.id for t in list_tickets(session, limit=1)] == [desk.conversation_id]
        with pytest.raises(InvalidInput, match="at least 1"):
            list_tickets(session, limit=0)


def test_filtering_by_an_unknown_client_or_department_is_refused_not_empty(
    sessions: sessionmaker[Session], desk: Desk
):
    with sessions() as session:
        with pytest.raises(NotFound, match="no client with id 999"):
            list_tickets(session, client_id=999)
        with pytest.raises(NotFound, match="unknown department 'Sales'"):
            list_tickets(session, department="Sales")
        with pytest.raises(InvalidInput, match="unknown status 'pending'"):
            list_tickets(session, status="pending")


def test_a_ticket_is_shown_with_client_department_assignees_and_tags(
    sessions: sessionmaker[Session], desk: Desk
):
    with sessions() as session:
        ticket = show_ticket(session, desk.conversation_id)
    assert ticket.title == "Printer on fire"
    assert (ticket.status, ticket.priority) == ("waiting_for_user", "high")
    assert ticket.client == Ref(desk.client_id, "Ada Lovelace")
    assert ticket.department == Ref(desk.department_id, "Technical Support")
    assert ticket.assignees == (Ref(desk.agent_id, "Grace Hopper"),)
    assert ticket.tags == ("escalated", "hardware")
    assert ticket.custom_fields == {"reopened_from": 7}
    assert ticket.created_at == datetime(2024, 5, 1, 10, 0)


def test_messages_are_shown_in_order_with_author_kind_channel_and_internal_notes(
    sessions: sessionmaker[Session], desk: Desk
):
    with sessions() as session:
        messages = show_ticket(session, desk.conversation_id).messages
    assert [(m.author_kind, m.author, m.channel, m.is_internal) for m in messages] == [
        ("client", Ref(desk.client_id, "Ada Lovelace"), "email", False),
        ("system", None, None, False),
        ("agent", Ref(desk.agent_id, "Grace Hopper"), "whatsapp", False),
        ("agent", Ref(desk.agent_id, "Grace Hopper"), None, True),
    ]
    assert messages[0].body == "It is on fire.\r\nPlease help."


def test_a_ticket_without_department_or_messages_is_shown_plainly(
    sessions: sessionmaker[Session], desk: Desk
):
    with sessions() as session:
        ticket = show_ticket(session, desk.quiet_id)
    assert (ticket.department, ticket.assignees, ticket.tags, ticket.messages) == (
        None,
        (),
        (),
        (),
    )
    assert ticket.closed_at == datetime(2024, 1, 2, 9, 0)


def test_showing_an_unknown_ticket_is_refused(sessions: sessionmaker[Session], desk: Desk):
    with sessions() as session, pytest.raises(NotFound, match="no ticket with id 999"):
        show_ticket(session, 999)
