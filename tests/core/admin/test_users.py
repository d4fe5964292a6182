"""Agents and administrators: one per normalized email, working for named departments."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.departments import add_department
from threadline.core.admin.errors import Conflict, InvalidInput, NotFound
from threadline.core.admin.users import add_user, list_users
from threadline.core.external_ids import InvalidExternalId
from threadline.core.models import User


def test_a_user_is_stored_with_the_email_normalized_like_a_client_email(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        added = add_user(session, " Grace Hopper ", "  Grace@BÜCHER.example ")
    with sessions() as session:
        stored = session.scalars(select(User)).one()
    assert (stored.name, stored.email, stored.type) == (
        "Grace Hopper",
        "grace@xn--bcher-kva.example",
        "agent",
    )
    assert added.id == stored.id


def test_users_are_listed_with_their_departments(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_department(session, "Sales")
        add_department(session, "Billing")
        add_user(session, "Grace", "grace@example.com", "agent", ["Sales", "Billing"])
        add_user(session, "Root", "root@example.com", "administrator")
    with sessions() as session:
        listed = list_users(session)
    assert [(u.name, u.type, u.departments) for u in listed] == [
        ("Grace", "agent", ("Billing", "Sales")),
        ("Root", "administrator", ()),
    ]


def test_a_second_user_with_the_same_email_written_differently_is_refused(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        first = add_user(session, "Grace", "grace@example.com")
    with sessions() as session, pytest.raises(Conflict) as caught:
        add_user(session, "Impostor", "GRACE@example.com")
    assert str(caught.value) == (
        f"a user with email grace@example.com already exists (user {first.id}, Grace)"
    )


def test_an_unknown_department_refuses_the_whole_user(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_department(session, "Sales")
    with sessions.begin() as session, pytest.raises(NotFound, match="'Salse'"):
        add_user(session, "Grace", "grace@example.com", departments=["Sales", "Salse"])
    with sessions() as session:
        assert list_users(session) == []


def test_an_invalid_email_is_refused_before_anything_is_written(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(InvalidExternalId, match="exactly one @"):
        add_user(session, "Grace", "grace.example.com")


def test_only_agents_and_administrators_exist(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(InvalidInput, match="administrator, agent"):
        add_user(session, "Grace", "grace@example.com", "superuser")
