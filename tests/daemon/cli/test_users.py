"""``threadline users add|list|notify`` on each database."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline, columns
from threadline.core.models import AgentSettings, UserOAuthAccount


def test_an_added_user_is_listed_with_departments_in_aligned_columns(threadline: Threadline):
    assert threadline("departments", "add", "Sales").exit_code == 0
    assert threadline("departments", "add", "Technical Support").exit_code == 0
    added = threadline(
        "users",
        "add",
        "Grace Hopper",
        "Grace@Example.COM",
        "--department",
        "Sales",
        "--department",
        "Technical Support",
    )
    assert added.exit_code == 0, added.output
    assert added.output == (
        "added agent 1: Grace Hopper <grace@example.com> in Sales, Technical Support\n"
    )
    threadline("users", "add", "Root", "root@example.com", "--type", "administrator")

    listed = threadline("users", "list")

    assert listed.exit_code == 0
    table = columns(listed.output)
    assert table[0] == ["ID", "TYPE", "NAME", "EMAIL", "DEPARTMENTS", "CREATED"]
    assert table[1][:5] == [
        "1",
        "agent",
        "Grace Hopper",
        "grace@example.com",
        "Sales, Technical Support",
    ]
    assert table[2][:5] == ["2", "administrator", "Root", "root@example.com", "-"]
    assert table[1][5].endswith(" UTC")


def test_users_list_as_json_is_one_document_with_stable_keys_and_iso_timestamps(
    threadline: Threadline,
):
    threadline("users", "add", "Grace Hopper", "grace@example.com")

    listed = threadline("users", "list", "--format", "json")

    assert listed.exit_code == 0
    (user,) = json.loads(listed.output)
    assert list(user) == ["id", "name", "email", "type", "departments", "created_at"]
    assert user["departments"] == []
    assert user["created_at"].endswith("+00:00")


def test_adding_a_user_whose_email_is_taken_is_one_error_line(threadline: Threadline):
    threadline("users", "add", "Grace Hopper", "grace@example.com")

    refused = threadline("users", "add", "Impostor", " GRACE@example.com")

    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: a user with email grace@example.com already exists (user 1, Grace Hopper)\n"
    )


def test_adding_a_user_to_an_unknown_department_names_the_existing_ones(threadline: Threadline):
    threadline("departments", "add", "Sales")

    refused = threadline("users", "add", "Grace", "grace@example.com", "--department", "Salse")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: unknown department 'Salse'; existing: Sales\n"
    assert threadline("users", "list", "--format", "json").output.strip() == "[]"


def test_adding_a_user_with_an_invalid_email_says_what_is_expected(threadline: Threadline):
    refused = threadline("users", "add", "Grace", "grace at example.com")

    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: email 'grace at example.com' contains spaces")
    assert "like ada@example.com" in refused.stderr


def test_an_empty_user_list_says_how_to_add_one(threadline: Threadline):
    listed = threadline("users", "list")

    assert listed.exit_code == 0
    assert "threadline users add" in listed.output


def test_an_agent_chooses_the_channel_of_their_notifications_and_can_go_back(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    threadline("users", "add", "Grace Hopper", "grace@example.com")

    chosen = threadline("users", "notify", "Grace@Example.com", "email")
    assert (chosen.exit_code, chosen.output) == (0, "user 1 is notified on email\n")
    with sessions() as session:
        assert session.scalars(select(AgentSettings.notification_channel)).all() == ["email"]

    reset = threadline("users", "notify", "grace@example.com", "default")
    assert reset.output == "user 1 is notified on the default channel\n"
    with sessions() as session:
        assert session.scalars(select(AgentSettings.notification_channel)).all() == [None]


def test_a_channel_that_cannot_carry_notifications_is_refused_naming_those_that_can(
    threadline: Threadline,
):
    threadline("users", "add", "Grace Hopper", "grace@example.com")

    refused = threadline("users", "notify", "grace@example.com", "normalized")

    assert refused.exit_code == 2
    assert "use one of email, slack, default" in refused.output
    assert threadline("users", "notify", "nobody@example.com", "email").exit_code != 0


def test_a_slack_account_is_linked_once_and_to_one_user_only(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    threadline("users", "add", "Grace Hopper", "grace@example.com")
    threadline("users", "add", "Ada Lovelace", "ada@example.com")

    linked = threadline("users", "link", "Grace@Example.com", "slack", "t0desk:u0grace")
    again = threadline("users", "link", "grace@example.com", "slack", "T0DESK:U0GRACE")
    taken = threadline("users", "link", "ada@example.com", "slack", "T0DESK:U0GRACE")
    malformed = threadline("users", "link", "ada@example.com", "slack", "U0ADA")

    assert (linked.exit_code, again.exit_code) == (0, 0)
    assert taken.exit_code != 0
    assert "slack account T0DESK:U0GRACE is linked to user 1 already" in taken.output
    assert malformed.exit_code != 0
    assert "slack" in malformed.output
    with sessions() as session:
        accounts = session.execute(
            select(UserOAuthAccount.user_id, UserOAuthAccount.provider_user_id)
        ).all()
    assert [tuple(account) for account in accounts] == [(1, "T0DESK:U0GRACE")]
