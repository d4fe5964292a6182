"""Clients and their external ids: normalized, and one id names one client."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.clients import ExternalId, add_client, link_external_id, list_clients
from threadline.core.admin.errors import Conflict, InvalidInput, NotFound
from threadline.core.external_ids import InvalidExternalId
from threadline.core.models import Client, ClientExternalId


def test_a_client_is_added_with_its_external_ids_normalized(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        added = add_client(
            session,
            "Ada Lovelace",
            [("email", " Ada@Bücher.example "), ("phone", "020 7946 0958")],
            default_region="GB",
        )
    assert added.external_ids == (
        ExternalId("email", "ada@xn--bcher-kva.example"),
        ExternalId("phone", "+442079460958"),
    )
    with sessions() as session:
        stored = session.scalars(select(ClientExternalId).order_by(ClientExternalId.id)).all()
    assert [(e.client_id, e.type, e.value) for e in stored] == [
        (added.id, "email", "ada@xn--bcher-kva.example"),
        (added.id, "phone", "+442079460958"),
    ]


def test_the_same_id_given_twice_when_adding_a_client_is_stored_once(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        added = add_client(
            session, "Ada", [("email", "ada@example.com"), ("email", "ADA@example.com")], ""
        )
    assert added.external_ids == (ExternalId("email", "ada@example.com"),)


def test_clients_are_listed_with_their_external_ids(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("email", "ada@example.com")], "")
        bob = add_client(session, "Bob", [], "")
        link_external_id(session, ada.id, "slack", "t1:u2", "")
    with sessions() as session:
        listed = list_clients(session)
    assert [(c.id, c.name, c.external_ids) for c in listed] == [
        (ada.id, "Ada", (ExternalId("email", "ada@example.com"), ExternalId("slack", "T1:U2"))),
        (bob.id, "Bob", ()),
    ]


def test_linking_an_email_owned_by_another_client_names_that_client(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        ada = add_client(session, "Ada Lovelace", [("email", "ada@example.com")], "")
        bob = add_client(session, "Bob", [], "")
    with sessions() as session, pytest.raises(Conflict) as caught:
        link_external_id(session, bob.id, "email", "ADA@example.com ", "")
    assert str(caught.value) == (
        f"email:ada@example.com already belongs to client {ada.id} (Ada Lovelace)"
    )


def test_linking_an_id_the_client_already_has_says_so(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("phone", "+442079460958")], "")
    with sessions() as session, pytest.raises(Conflict) as caught:
        link_external_id(session, ada.id, "phone", "020 7946 0958", "GB")
    assert str(caught.value) == f"phone:+442079460958 is already linked to client {ada.id} (Ada)"


def test_a_whatsapp_number_that_is_another_clients_phone_is_refused(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("phone", "+442079460958")], "")
        bob = add_client(session, "Bob", [], "")
    with sessions() as session, pytest.raises(Conflict) as caught:
        link_external_id(session, bob.id, "whatsapp", "whatsapp:+442079460958", "")
    assert str(caught.value) == (
        "whatsapp:+442079460958 is the number of phone:+442079460958, "
        f"which belongs to client {ada.id} (Ada)"
    )


def test_a_client_may_have_its_phone_number_as_whatsapp_too(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("phone", "+442079460958")], "")
        linked = link_external_id(session, ada.id, "whatsapp", "whatsapp:+442079460958", "")
    assert linked == ExternalId("whatsapp", "+442079460958")


def test_adding_a_client_with_a_taken_id_writes_nothing(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_client(session, "Ada", [("email", "ada@example.com")], "")
    with sessions.begin() as session, pytest.raises(Conflict, match="belongs to client"):
        add_client(session, "Ada again", [("slack", "T1:U1"), ("email", "ada@example.com")], "")
    with sessions() as session:
        assert session.scalars(select(Client.name)).all() == ["Ada"]
        assert session.scalars(select(ClientExternalId.type)).all() == ["email"]


def test_linking_to_an_unknown_client_is_refused(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(NotFound, match="no client with id 42"):
        link_external_id(session, 42, "email", "ada@example.com", "")


def test_an_invalid_id_is_refused_with_the_normalizers_reason(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [], "")
    with sessions() as session, pytest.raises(InvalidExternalId, match="default_region"):
        link_external_id(session, ada.id, "phone", "020 7946 0958", "")


def test_a_client_needs_a_name(sessions: sessionmaker[Session]):
    with sessions() as session, pytest.raises(InvalidInput, match="client name is empty"):
        add_client(session, " ", [("email", "ada@example.com")], "")
