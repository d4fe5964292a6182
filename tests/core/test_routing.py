"""Tickets go to the department of the first matching rule, then to one of its agents in turn."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.clients import add_client
from threadline.core.admin.departments import add_department
from threadline.core.admin.users import add_user
from threadline.core.models import Ticket, ticket_assignments
from threadline.core.routing import RoutingError, Strategy, assign, check_routing, route
from threadline.core.settings import AssignmentSettings, RouteRule, RoutingSettings

NOW = datetime(2024, 5, 1, 12, 0)
RULES = RoutingSettings(
    rules=[
        RouteRule(match="vip@example.com", department="Sales"),
        RouteRule(match="*@example.com", department="Support"),
        RouteRule(match="+4420*", department="Sales"),
    ],
    default_department="Support",
)


@pytest.fixture
def departments(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as session:
        return {name: add_department(session, name).id for name in ("Sales", "Support", "Empty")}


def new_ticket(session: Session, department_id: int, status: str = "open") -> int:
    client = add_client(session, "Client", [], "")
    ticket = Ticket(title="Help", client_id=client.id, department_id=department_id, status=status)
    session.add(ticket)
    session.flush()
    return ticket.id


def assign_to(session: Session, ticket_id: int, user_id: int) -> None:
    session.execute(insert(ticket_assignments).values(ticket_id=ticket_id, user_id=user_id))


def test_first_matching_rule_wins_in_the_order_written(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    with sessions() as session:
        assert route(session, "vip@example.com", RULES).department_id == departments["Sales"]
        assert route(session, "help@example.com", RULES).department_id == departments["Support"]


def test_rules_match_globs_case_insensitively(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    with sessions() as session:
        assert route(session, " VIP@Example.COM", RULES).department_id == departments["Sales"]
        assert route(session, "+442079460018", RULES).department_id == departments["Sales"]
        assert route(session, "Help@EXAMPLE.com", RULES).department_id == departments["Support"]


def test_unmatched_or_unknown_address_goes_to_the_default_department(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    with sessions() as session:
        assert route(session, "help@example.org", RULES).department_id == departments["Support"]
        assert route(session, None, RULES).department_id == departments["Support"]


def test_without_matching_rule_or_default_no_department_is_chosen(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    settings = RoutingSettings(rules=[RouteRule(match="sales@*", department="Sales")])
    with sessions() as session:
        assert route(session, "help@example.com", settings).department_id is None
        assert route(session, "SALES@example.com", settings).department_id == departments["Sales"]


def test_rule_naming_a_missing_department_raises_a_clear_error(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    settings = RoutingSettings(rules=[RouteRule(match="*", department="Salse")])
    with sessions() as session, pytest.raises(RoutingError) as caught:
        route(session, "help@example.com", settings)
    assert str(caught.value) == (
        "[routing] names an unknown department 'Salse'; existing: Empty, Sales, Support; "
        "add it with `threadline departments add NAME` or correct the rule"
    )


def test_routing_check_at_startup_names_every_missing_department(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    broken = RoutingSettings(
        rules=[*RULES.rules, RouteRule(match="x@*", department="Billing")],
        default_department="Triage",
    )
    with sessions() as session:
        check_routing(session, RULES, AssignmentSettings())
        with pytest.raises(RoutingError, match="unknown department 'Billing', 'Triage'"):
            check_routing(session, broken, AssignmentSettings())


def test_round_robin_cycles_fairly_over_three_agents_across_six_tickets(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    with sessions.begin() as session:
        agents = [
            add_user(session, name, f"{name}@example.com", "agent", ["Sales"]).id
            for name in ("ada", "bob", "cy")
        ]
        add_user(session, "root", "root@example.com", "administrator", ["Sales"])
        add_user(session, "dee", "dee@example.com", "agent", ["Support"])
    picked = []
    for _ in range(6):
        with sessions.begin() as session:
            ticket = new_ticket(session, departments["Sales"])
            picked += assign(session, ticket, departments["Sales"], "round_robin", NOW)
    assert picked == agents + agents


def test_round_robin_gives_a_newly_added_agent_the_next_ticket(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    with sessions.begin() as session:
        ada = add_user(session, "ada", "ada@example.com", "agent", ["Sales"]).id
        bob = add_user(session, "bob", "bob@example.com", "agent", ["Sales"]).id
        for agent in (bob, ada):
            assign_to(session, new_ticket(session, departments["Sales"]), agent)
        cy = add_user(session, "cy", "cy@example.com", "agent", ["Sales"]).id
    with sessions.begin() as session:
        sales = departments["Sales"]
        first = assign(session, new_ticket(session, sales), sales, "round_robin", NOW)
        second = assign(session, new_ticket(session, sales), sales, "round_robin", NOW)
    assert (first, second) == ([cy], [bob])


def test_least_loaded_skips_closed_tickets(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    sales = departments["Sales"]
    with sessions.begin() as session:
        ada = add_user(session, "ada", "ada@example.com", "agent", ["Sales"]).id
        bob = add_user(session, "bob", "bob@example.com", "agent", ["Sales"]).id
        for status in ("closed", "closed", "closed", "waiting_for_user"):
            assign_to(session, new_ticket(session, sales, status), ada)
        for status in ("open", "unresolved"):
            assign_to(session, new_ticket(session, sales, status), bob)
    with sessions.begin() as session:
        first = assign(session, new_ticket(session, sales), sales, "least_loaded", NOW)
        # Both now carry two tickets not closed; bob, assigned longest ago, breaks the tie.
        second = assign(session, new_ticket(session, sales), sales, "least_loaded", NOW)
    assert (first, second) == ([ada], [bob])


def test_assignment_is_recorded_and_moves_the_ticket_updated_at(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    sales = departments["Sales"]
    with sessions.begin() as session:
        ada = add_user(session, "ada", "ada@example.com", "agent", ["Sales"]).id
        ticket = new_ticket(session, sales)
    with sessions.begin() as session:
        assert assign(session, ticket, sales, "least_loaded", NOW) == [ada]
    with sessions() as session:
        assert session.execute(select(ticket_assignments)).all() == [(ticket, ada)]
        assert session.get(Ticket, ticket).updated_at == NOW


def test_assignment_none_assigns_nobody(
    sessions: sessionmaker[Session], departments: dict[str, int]
):
    sales = departments["Sales"]
    with sessions.begin() as session:
        add_user(session, "ada", "ada@example.com", "agent", ["Sales"])
        assert assign(session, new_ticket(session, sales), sales, "none", NOW) == []
        assert session.execute(select(ticket_assignments)).all() == []


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_department_without_agents_assigns_nobody(
    sessions: sessionmaker[Session], departments: dict[str, int], strategy: Strategy
):
    with sessions.begin() as session:
        add_user(session, "root", "root@example.com", "administrator", ["Empty"])
        add_user(session, "ada", "ada@example.com", "agent", ["Sales"])
        empty = departments["Empty"]
        assert assign(session, new_ticket(session, empty), empty, strategy, NOW) == []
        assert assign(session, new_ticket(session, empty), None, strategy, NOW) == []
        assert session.execute(select(ticket_assignments)).all() == []
