"""Departments: unique names, and how many agents work for each."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.departments import add_department, departments_named, list_departments
from threadline.core.admin.errors import Conflict, InvalidInput, NotFound
from threadline.core.admin.users import add_user


def test_added_departments_are_listed_by_name_with_their_agent_count(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        add_department(session, "Technical Support", "Things that break")
        add_department(session, "Sales")
        add_user(session, "Grace", "grace@example.com", departments=["Sales"])
        add_user(session, "Linus", "linus@example.com", departments=["Sales"])
    with sessions() as session:
        listed = list_departments(session)
    assert [(d.name, d.agent_count, d.description) for d in listed] == [
        ("Sales", 2, None),
        ("Technical Support", 0, "Things that break"),
    ]


def test_a_department_name_is_used_once(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        first = add_department(session, "Sales")
    with sessions() as session, pytest.raises(Conflict, match=rf"'Sales'.*department {first.id}"):
        add_department(session, "  Sales ")


def test_a_department_needs_a_name(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(InvalidInput, match="empty"):
        add_department(session, "   ")


def test_an_unknown_department_name_is_refused_listing_the_existing_ones(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        add_department(session, "Sales")
        add_department(session, "Billing")
    with sessions() as session, pytest.raises(NotFound) as caught:
        departments_named(session, ["Sales", "Salse"])
    assert str(caught.value) == "unknown department 'Salse'; existing: Billing, Sales"


def test_naming_a_department_when_none_exist_says_so(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(NotFound, match="no departments exist yet"):
        departments_named(session, ["Sales"])
