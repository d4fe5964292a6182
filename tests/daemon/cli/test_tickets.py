"""``threadline tickets list|show`` on each database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline, columns
from tests.support.desk import Desk, build_desk
from threadline.core.models import Client, Message


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> Desk:
    with sessions.begin() as session:
        return build_desk(session)


def test_tickets_are_listed_newest_first_in_aligned_columns(threadline: Threadline, desk: Desk):
    listed = threadline("tickets", "list")

    assert listed.exit_code == 0
    assert columns(listed.output) == [
        ["ID", "STATUS", "PRIORITY", "CLIENT", "DEPARTMENT", "UPDATED", "TITLE"],
        [
            str(desk.conversation_id),
            "waiting_for_user",
            "high",
            "Ada Lovelace",
            "Technical Support",
            "2024-05-01 11:00 UTC",
            "Printer on fire",
        ],
        [str(desk.quiet_id), "closed", "medium", "Bob", "-", "2024-01-02 09:00 UTC", "Old invoice"],
    ]


def test_tickets_list_filters_combine(threadline: Threadline, desk: Desk):
    listed = threadline(
        "tickets",
        "list",
        "--status",
        "closed",
        "--client",
        str(desk.other_client_id),
        "--format",
        "json",
    )

    assert [ticket["id"] for ticket in json.loads(listed.output)] == [desk.quiet_id]
    by_department = threadline("tickets", "list", "--department", "Technical Support")
    assert [row[0] for row in columns(by_department.output)[1:]] == [str(desk.conversation_id)]
    limited = threadline("tickets", "list", "--limit", "1", "--format", "json")
    assert [ticket["id"] for ticket in json.loads(limited.output)] == [desk.conversation_id]


def test_tickets_list_as_json_has_stable_keys_and_iso_timestamps(
    threadline: Threadline, desk: Desk
):
    listed = threadline("tickets", "list", "--status", "waiting_for_user", "--format", "json")

    assert json.loads(listed.output) == [
        {
            "id": desk.conversation_id,
            "title": "Printer on fire",
            "status": "waiting_for_user",
            "priority": "high",
            "client": {"id": desk.client_id, "name": "Ada Lovelace"},
            "department": {"id": desk.department_id, "name": "Technical Support"},
            "created_at": "2024-05-01T10:00:00+00:00",
            "updated_at": "2024-05-01T11:00:00+00:00",
        }
    ]


def test_no_matching_tickets_is_said_not_left_blank(threadline: Threadline, desk: Desk):
    listed = threadline("tickets", "list", "--status", "unresolved")

    assert listed.exit_code == 0
    assert listed.output == "no tickets match\n"


def test_listing_tickets_of_an_unknown_client_or_department_is_one_error_line(
    threadline: Threadline, desk: Desk
):
    unknown_client = threadline("tickets", "list", "--client", "999")
    unknown_department = threadline("tickets", "list", "--department", "Sales")

    assert (unknown_client.exit_code, unknown_client.stderr) == (
        1,
        "Error: no client with id 999\n",
    )
    assert (unknown_department.exit_code, unknown_department.stderr) == (
        1,
        "Error: unknown department 'Sales'; existing: Technical Support\n",
    )


def test_a_shown_ticket_reads_as_its_conversation_with_internal_notes_marked(
    threadline: Threadline, desk: Desk
):
    shown = threadline("tickets", "show", str(desk.conversation_id))

    assert shown.exit_code == 0
    assert shown.output == "\n".join(
        [
            f"Ticket      #{desk.conversation_id} Printer on fire",
            "Status      waiting_for_user",
            "Priority    high",
            f"Client      Ada Lovelace (client {desk.client_id})",
            "Department  Technical Support",
            "Assignees   Grace Hopper",
            "Tags        escalated, hardware",
            "Created     2024-05-01 10:00 UTC",
            "Updated     2024-05-01 11:00 UTC",
            "Closed      -",
            'Fields      {"reopened_from": 7}',
            "",
            "--- message 1  2024-05-01 10:00 UTC  client Ada Lovelace  via email",
            "    It is on fire.",
            "    Please help.",
            "",
            "--- message 4  2024-05-01 10:05 UTC  system",
            "    Ticket assigned to Grace Hopper",
            "",
            "--- message 2  2024-05-01 10:30 UTC  agent Grace Hopper  via whatsapp",
            "    Is it plugged in?",
            "",
            "--- message 3  2024-05-01 10:40 UTC  agent Grace Hopper  [internal note]",
            "    Customer seems calm.",
            "",
        ]
    )


def test_a_shown_ticket_as_json_is_one_document_with_its_messages(
    threadline: Threadline, desk: Desk
):
    shown = threadline("tickets", "show", str(desk.conversation_id), "--format", "json")

    ticket = json.loads(shown.output)
    assert list(ticket) == [
        "id",
        "title",
        "status",
        "priority",
        "client",
        "department",
        "assignees",
        "tags",
        "custom_fields",
        "created_at",
        "updated_at",
        "closed_at",
        "messages",
    ]
    assert ticket["assignees"] == [{"id": desk.agent_id, "name": "Grace Hopper"}]
    assert ticket["closed_at"] is None
    assert ticket["messages"][3] == {
        "id": 3,
        "created_at": "2024-05-01T10:40:00+00:00",
        "author_kind": "agent",
        "author": {"id": desk.agent_id, "name": "Grace Hopper"},
        "channel": None,
        "is_internal": True,
        "body": "Customer seems calm.",
        "full_text": "Customer seems calm.",
    }


def test_control_characters_in_stored_text_cannot_reach_the_terminal(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    with sessions.begin() as session:
        desk = build_desk(session)
        session.execute(
            update(Message)
            .where(Message.ticket_id == desk.conversation_id, Message.client_id.is_not(None))
            .values(body="hi\x1b[2J\x1b]0;pwned\x07 there")
        )
        session.execute(
            update(Client).where(Client.id == desk.client_id).values(name="Ada\x1b[31m Red")
        )

    shown = threadline("tickets", "show", str(desk.conversation_id))
    listed = threadline("tickets", "list")

    for output in (shown.output, listed.output):
        assert "\x1b" not in output
        assert "\x07" not in output
    assert "    hi\N{REPLACEMENT CHARACTER}[2J" in shown.output
    assert "Ada\N{REPLACEMENT CHARACTER}[31m Red" in listed.output


def test_showing_an_unknown_ticket_is_one_error_line(threadline: Threadline):
    refused = threadline("tickets", "show", "999")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: no ticket with id 999\n"
