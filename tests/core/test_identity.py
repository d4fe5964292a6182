"""Who wrote: clients by their external ids, agents only by proof, strangers created or parked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.admin.clients import add_client
from threadline.core.admin.users import add_user
from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits
from threadline.core.db import make_engine, session_factory
from threadline.core.identity import Author, resolve_author
from threadline.core.models import Client, ClientExternalId, UserOAuthAccount
from threadline.core.normalized import SenderIdentity
from threadline.core.outcome import Park
from threadline.core.settings import IdentitySettings
from threadline.core.tokens import ReplyToken
from threadline.daemon import channels

NOW = datetime(2024, 5, 1, 12, 0)
VOUCHING = ChannelTraits(verifies_sender=True, agent_id_type="slack")
"""A channel whose provider vouches for its senders, as Slack's signed events do."""
TRAITS = {"email": channels.channel("email").traits, "slack": VOUCHING}
"""By sender type, the traits of the channel such a sender writes on."""
CREATE = IdentitySettings(default_region="GB", unknown_sender="create")
PARK = IdentitySettings(default_region="GB", unknown_sender="park")


def resolve(
    session: Session,
    type: str,
    value: str,
    *,
    token: ReplyToken | None = None,
    settings: IdentitySettings = CREATE,
    display_name: str | None = None,
    traits: ChannelTraits | None = None,
) -> Author:
    return resolve_author(
        BatchWork(session, NOW),
        SenderIdentity(type, value, display_name),
        token=token,
        settings=settings,
        traits=traits or TRAITS.get(type, ChannelTraits()),
    )


def client_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Client)) or 0


def test_known_client_is_found_by_email_written_in_another_case(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("email", "ada@example.com")], "GB")
    with sessions.begin() as session:
        author = resolve(session, "email", "  ADA@Example.COM ")
        assert author == Author("client", ada.id, None, "ada@example.com")
        assert client_count(session) == 1


def test_client_known_by_phone_is_found_writing_on_whatsapp(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        bob = add_client(session, "Bob", [("phone", "020 7946 0018")], "GB")
    with sessions.begin() as session:
        author = resolve(session, "whatsapp", "whatsapp:+442079460018")
        assert author == Author("client", bob.id, None, "+442079460018")
        assert client_count(session) == 1


def test_client_known_by_whatsapp_is_found_by_the_same_phone_number(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        bob = add_client(session, "Bob", [("whatsapp", "+442079460018")], "GB")
    with sessions.begin() as session:
        assert resolve(session, "phone", "02079460018").client_id == bob.id


def test_agent_is_recognised_by_their_token_and_their_from(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        grace = add_user(session, "Grace", "grace@example.com")
    with sessions.begin() as session:
        author = resolve(session, "email", "Grace@EXAMPLE.com", token=ReplyToken(7, grace.id))
        assert author == Author("agent", None, grace.id, "grace@example.com")
        assert client_count(session) == 0


def test_from_of_an_agent_without_a_token_resolves_as_a_client(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_user(session, "Grace", "grace@example.com")
    with sessions.begin() as session:
        for token in (None, ReplyToken(7)):
            author = resolve(session, "email", "grace@example.com", token=token)
            assert (author.kind, author.user_id, author.address) == (
                "client",
                None,
                "grace@example.com",
            )
        assert client_count(session) == 1


def test_token_of_another_agent_with_this_agents_from_is_not_trusted(
    sessions: sessionmaker[Session],
):
    with sessions.begin() as session:
        add_user(session, "Grace", "grace@example.com")
        linus = add_user(session, "Linus", "linus@example.com")
    with sessions.begin() as session:
        author = resolve(session, "email", "grace@example.com", token=ReplyToken(7, linus.id))
        assert author.kind == "client"
        assert author.client_id is not None


def test_slack_agent_is_recognised_by_their_slack_account(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        grace = add_user(session, "Grace", "grace@example.com")
        session.add(
            UserOAuthAccount(user_id=grace.id, provider="slack", provider_user_id="T01:U0GRACE")
        )
    with sessions.begin() as session:
        author = resolve(session, "slack", "t01:u0grace")
        assert author == Author("agent", None, grace.id, "T01:U0GRACE")
        assert client_count(session) == 0


def test_agent_account_on_a_channel_that_does_not_vouch_for_senders_is_only_a_claim(
    sessions: sessionmaker[Session],
):
    """The same linked account, arriving where anyone could have written it, makes no agent:
    a client who claims to be one, threaded into nothing existing."""
    with sessions.begin() as session:
        grace = add_user(session, "Grace", "grace@example.com")
        session.add(
            UserOAuthAccount(user_id=grace.id, provider="slack", provider_user_id="T01:U0GRACE")
        )
    with sessions.begin() as session:
        author = resolve(session, "slack", "T01:U0GRACE", traits=ChannelTraits())
        assert (author.kind, author.claims_agent) == ("client", True)
        assert author.client_id is not None


def test_slack_client_is_found_by_their_slack_id(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        add_user(session, "Grace", "grace@example.com")
        ada = add_client(session, "Ada", [("slack", "T01:U0ADA")], "GB")
    with sessions.begin() as session:
        assert resolve(session, "slack", "T01:U0ADA") == Author("client", ada.id, None, "T01:U0ADA")


def test_unknown_sender_becomes_a_client_named_after_them(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        named = resolve(session, "email", "Ada@Example.com", display_name=" Ada Lovelace ")
        anonymous = resolve(session, "whatsapp", "+442079460018", display_name="  ")
    with sessions() as session:
        stored = {
            client.id: (
                client.name,
                client.created_at,
                [(e.type, e.value) for e in client.external_ids],
            )
            for client in session.scalars(select(Client))
        }
    assert stored == {
        named.client_id: ("Ada Lovelace", NOW, [("email", "ada@example.com")]),
        anonymous.client_id: ("+442079460018", NOW, [("whatsapp", "+442079460018")]),
    }


def test_unknown_sender_is_parked_under_the_park_policy(sessions: sessionmaker[Session]):
    with sessions.begin() as session, pytest.raises(Park) as parked:
        resolve(session, "email", "Stranger@Example.com", settings=PARK)
    assert "unknown sender email stranger@example.com" in str(parked.value)
    assert "threadline clients add NAME -e email stranger@example.com" in str(parked.value)
    with sessions() as session:
        assert client_count(session) == 0


def test_known_sender_is_still_found_under_the_park_policy(sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        ada = add_client(session, "Ada", [("email", "ada@example.com")], "GB")
    with sessions.begin() as session:
        assert resolve(session, "email", "ada@example.com", settings=PARK).client_id == ada.id


@pytest.mark.parametrize(
    ("type", "value", "reason"),
    [
        ("email", "not an address", "spaces"),
        ("whatsapp", "+44 12", "not a valid number"),
        ("slack", "U0ADA", "TEAM:USER"),
        ("fax", "+442079460018", "unsupported external id type"),
    ],
)
def test_sender_value_that_does_not_normalize_is_parked_with_the_reason(
    sessions: sessionmaker[Session], type: str, value: str, reason: str
):
    with sessions.begin() as session, pytest.raises(Park) as parked:
        resolve(session, type, value)
    assert str(parked.value).startswith("cannot identify the sender: ")
    assert reason in str(parked.value)


CONCURRENT_SENDERS = 20


def test_twenty_concurrent_first_messages_from_one_sender_make_one_client(db_url: str):
    engine = make_engine(db_url, pool_size=CONCURRENT_SENDERS)
    sessions = session_factory(engine)
    # Open every connection up front so the threads meet at the barrier, not in the pool.
    warm = [engine.raw_connection() for _ in range(CONCURRENT_SENDERS)]
    for connection in warm:
        connection.close()
    barrier = threading.Barrier(CONCURRENT_SENDERS, timeout=30)

    def first_message() -> Author:
        barrier.wait()
        with sessions.begin() as session:
            return resolve(session, "email", "new@example.com", display_name="New")

    try:
        with ThreadPoolExecutor(CONCURRENT_SENDERS) as pool:
            futures = [pool.submit(first_message) for _ in range(CONCURRENT_SENDERS)]
            authors = {future.result(timeout=60) for future in futures}
        with sessions() as session:
            clients = session.scalars(select(Client.id)).all()
            ids = session.execute(select(ClientExternalId.client_id, ClientExternalId.value)).all()
            if engine.dialect.name == "postgresql":
                # The race really ran: losers each inserted a client (sequences never roll
                # back) and let it go with their savepoint.
                assert session.scalar(text("SELECT last_value FROM clients_id_seq")) > 1
    finally:
        engine.dispose()
    assert len(clients) == 1
    assert authors == {Author("client", clients[0], None, "new@example.com")}
    assert ids == [(clients[0], "new@example.com")]
