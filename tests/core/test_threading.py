"""Threading: tokens, refs, subject tags, thread-less chats, closed tickets, and
the same grouping into tickets whatever order the messages arrive in."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email, whatsapp
from threadline.core.models import Message, MessageRef, Ticket, User
from threadline.core.outcome import Park
from threadline.core.settings import IdentitySettings, ThreadingSettings
from threadline.core.tokens import ReplyToken


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    return desk_pipeline(sessions, threading=ThreadingSettings(reopen_window_days=7))


def ticket_of(desk: DeskPipeline, message_id: int | None) -> int:
    with desk.sessions() as session:
        return session.get(Message, message_id).ticket_id


def grouping(sessions: sessionmaker[Session]) -> set[frozenset[str]]:
    """Own message ids grouped by the ticket they ended up in."""
    with sessions() as session:
        rows = session.execute(
            select(MessageRef.external_id, Message.ticket_id).join(
                Message, Message.id == MessageRef.message_id
            )
        ).all()
    tickets: dict[int, set[str]] = {}
    for external_id, ticket_id in rows:
        tickets.setdefault(ticket_id, set()).add(external_id)
    return {frozenset(ids) for ids in tickets.values()}


# Two conversations of one client and a third of another; the roots of two are never received.
THREADS = [
    email("ada@example.com", "a1@mail", subject="Printer"),
    email("ada@example.com", "a2@mail", in_reply_to=("a1@mail",), references=("a1@mail",)),
    email(
        "ada@example.com",
        "a3@mail",
        in_reply_to=("a2@mail",),
        references=("a1@mail", "a2@mail"),
    ),
    email("ada@example.com", "a4@mail", in_reply_to=("a3@mail",), references=("a3@mail",)),
    email("ada@example.com", "b2@mail", in_reply_to=("b1@never",), references=("b1@never",)),
    email("ada@example.com", "b3@mail", in_reply_to=("b2@mail",), references=("b1@never",)),
    email("bob@example.com", "c2@mail", in_reply_to=("c1@never",), references=("c1@never",)),
    email("bob@example.com", "c3@mail", references=("c1@never", "c2@mail")),
    email("bob@example.com", "c4@mail", in_reply_to=("c3@mail",)),
]
EXPECTED = {
    frozenset({"a1@mail", "a2@mail", "a3@mail", "a4@mail"}),
    frozenset({"b2@mail", "b3@mail"}),
    frozenset({"c2@mail", "c3@mail", "c4@mail"}),
}


@pytest.mark.parametrize("seed", range(6))
def test_grouping_into_tickets_does_not_depend_on_arrival_order(
    sessions: sessionmaker[Session], seed: int
):
    desk = desk_pipeline(sessions)
    order = list(THREADS)
    random.Random(seed).shuffle(order)
    for message in order:
        assert desk.deliver(message).status == "done"
    assert grouping(sessions) == EXPECTED


@pytest.mark.parametrize("batch_size", [2, 4, len(THREADS)])
@pytest.mark.parametrize("seed", range(3))
def test_grouping_is_the_same_when_messages_share_a_batch(
    sessions: sessionmaker[Session], seed: int, batch_size: int
):
    desk = desk_pipeline(sessions)
    order = list(THREADS)
    random.Random(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        outcomes = desk.deliver_batch(order[start : start + batch_size])
        assert [outcome.status for outcome in outcomes] == ["done"] * len(outcomes)
    assert grouping(sessions) == EXPECTED


def test_a_batch_with_a_tag_for_a_ticket_it_opens_itself_threads_into_it(
    sessions: sessionmaker[Session],
):
    desk = desk_pipeline(sessions)
    first, tagged = desk.deliver_batch(
        [
            email("ada@example.com", "new@mail", subject="Printer"),
            email("ada@example.com", "tag@mail", subject_tag=1),
        ]
    )
    assert ticket_of(desk, first.message_id) == ticket_of(desk, tagged.message_id) == 1


def test_reply_before_its_root_lands_in_the_same_ticket(desk: DeskPipeline):
    reply = desk.deliver(email("ada@example.com", "r2@mail", in_reply_to=("r1@mail",)))
    root = desk.deliver(email("ada@example.com", "r1@mail"))
    assert ticket_of(desk, reply.message_id) == ticket_of(desk, root.message_id)


def test_a_bridging_message_merges_two_tickets_into_the_oldest(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "x1@mail"))
    second = desk.deliver(email("ada@example.com", "y1@mail"))
    older, newer = ticket_of(desk, first.message_id), ticket_of(desk, second.message_id)
    bridge = desk.deliver(email("ada@example.com", "z@mail", references=("x1@mail", "y1@mail")))
    assert ticket_of(desk, bridge.message_id) == older
    assert ticket_of(desk, second.message_id) == older
    with desk.sessions() as session:
        absorbed = session.get(Ticket, newer)
        assert absorbed.status == "closed"
        assert absorbed.custom_fields == {"merged_into": older}


def test_the_same_message_delivered_twice_is_stored_once(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "once@mail"))
    again = desk.deliver(email("ada@example.com", "once@mail"))
    assert again.status == "ignored"
    assert again.message_id == first.message_id
    with desk.sessions() as session:
        assert session.scalar(select(Message.id).where(Message.id != first.message_id)) is None


def test_subject_tag_of_the_tickets_own_client_threads(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "t1@mail"))
    ticket_id = ticket_of(desk, first.message_id)
    tagged = desk.deliver(email("ada@example.com", "t2@mail", subject_tag=ticket_id))
    assert ticket_of(desk, tagged.message_id) == ticket_id


def test_reply_from_stranger_with_ticket_tag_opens_new_ticket(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "s1@mail"))
    ticket_id = ticket_of(desk, first.message_id)
    stranger = desk.deliver(email("mallory@example.net", "s2@mail", subject_tag=ticket_id))
    assert ticket_of(desk, stranger.message_id) != ticket_id


def test_a_signed_token_threads_and_a_tampered_one_does_not(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "k1@mail"))
    ticket_id = ticket_of(desk, first.message_id)
    token = desk.signer.sign(ReplyToken(ticket_id))
    good = desk.deliver(email("ada@example.com", "k2@mail", reply_token=token))
    assert ticket_of(desk, good.message_id) == ticket_id
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    bad = desk.deliver(email("ada@example.com", "k3@mail", reply_token=forged))
    assert ticket_of(desk, bad.message_id) != ticket_id


def test_a_token_the_channel_found_in_an_id_of_ours_threads(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "m1@mail"))
    ticket_id = ticket_of(desk, first.message_id)
    token = desk.signer.sign(ReplyToken(ticket_id))
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    reply = desk.deliver(
        email("ada@example.com", "m2@mail", referenced_tokens=(forged, token), in_reply_to=("x",))
    )
    assert ticket_of(desk, reply.message_id) == ticket_id


def test_reply_to_closed_ticket_inside_the_window_reopens_it(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "c1@mail"))
    ticket_id = ticket_of(desk, first.message_id)
    with desk.sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        ticket.status, ticket.closed_at = "closed", desk.clock.now
    desk.clock.advance(days=6)
    reply = desk.deliver(email("ada@example.com", "c2@mail", in_reply_to=("c1@mail",)))
    assert ticket_of(desk, reply.message_id) == ticket_id
    with desk.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert (ticket.status, ticket.closed_at) == ("waiting_for_agent", None)


def test_reply_to_closed_ticket_outside_the_window_opens_a_new_one(desk: DeskPipeline):
    first = desk.deliver(email("ada@example.com", "o1@mail"))
    old = ticket_of(desk, first.message_id)
    with desk.sessions.begin() as session:
        ticket = session.get(Ticket, old)
        ticket.status, ticket.closed_at = "closed", desk.clock.now
    desk.clock.advance(days=8)
    reply = desk.deliver(email("ada@example.com", "o2@mail", in_reply_to=("o1@mail",)))
    new = ticket_of(desk, reply.message_id)
    assert new != old
    with desk.sessions() as session:
        assert session.get(Ticket, new).custom_fields == {"previous_ticket_id": old}
        assert session.get(Ticket, old).status == "closed"


def test_whatsapp_messages_continue_the_clients_latest_open_ticket(desk: DeskPipeline):
    first = desk.deliver(whatsapp("+14155552671", "My order is late", "SM1"))
    second = desk.deliver(whatsapp("+14155552671", "Order 42", "SM2"))
    assert ticket_of(desk, first.message_id) == ticket_of(desk, second.message_id)
    with desk.sessions() as session:
        assert session.get(Ticket, ticket_of(desk, first.message_id)).title == "My order is late"


def test_whatsapp_messages_sharing_a_batch_continue_each_clients_latest_ticket(
    desk: DeskPipeline,
):
    known = ticket_of(desk, desk.deliver(whatsapp("+14155550001", "Earlier", "SM0")).message_id)
    closed = ticket_of(desk, desk.deliver(whatsapp("+14155550003", "Long ago", "SM9")).message_id)
    with desk.sessions.begin() as session:
        ticket = session.get(Ticket, closed)
        ticket.status, ticket.closed_at = "closed", desk.clock.now
    desk.clock.advance(days=8)
    outcomes = desk.deliver_batch(
        [
            whatsapp("+14155550002", "New here", "SM1"),
            whatsapp("+14155550001", "Back again", "SM2"),
            whatsapp("+14155550003", "Me again", "SM3"),
            whatsapp("+14155550002", "More", "SM4"),
            whatsapp("+14155550001", "And more", "SM5"),
            whatsapp("+14155550003", "Still me", "SM6"),
        ]
    )
    new, again, reopened, more, and_more, still = (
        ticket_of(desk, outcome.message_id) for outcome in outcomes
    )
    assert again == and_more == known
    assert new == more != known
    assert reopened == still not in (closed, known, new)


def test_a_message_claiming_an_agents_address_without_token_is_not_the_agent(
    desk: DeskPipeline,
):
    with desk.sessions.begin() as session:
        session.add(User(name="Grace", email="grace@desk.example", type="agent"))
    outcome = desk.deliver(email("grace@desk.example", "g1@mail", body="#close"))
    with desk.sessions() as session:
        message = session.get(Message, outcome.message_id)
        assert message.user_id is None
        assert message.client_id is not None
        assert session.get(Ticket, message.ticket_id).status == "open"


def test_a_forged_agent_from_joins_no_conversation(desk: DeskPipeline):
    """Quoting a customer's Message-ID and an agent's From: must not put words into that
    customer's ticket: the mail opens a ticket of its own."""
    with desk.sessions.begin() as session:
        session.add(User(name="Grace", email="Grace@Desk.example", type="agent"))
    customer = desk.deliver(email("ada@example.com", "a1@mail", subject="Printer"))
    forged = desk.deliver(
        email("grace@desk.example", "g1@mail", in_reply_to=("a1@mail",), subject_tag=1)
    )
    assert ticket_of(desk, forged.message_id) != ticket_of(desk, customer.message_id)
    later = desk.deliver(email("ada@example.com", "a2@mail", in_reply_to=("a1@mail",)))
    assert ticket_of(desk, later.message_id) == ticket_of(desk, customer.message_id)


def test_a_forged_agent_from_is_parked_when_so_configured(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions, identity=IdentitySettings(unverified_agent="park"))
    with desk.sessions.begin() as session:
        session.add(User(name="Grace", email="grace@desk.example", type="agent"))
    with desk.sessions.begin() as session, pytest.raises(Park) as parked:
        desk.pipeline.handle_inbounds(session, [email("grace@desk.example", "g1@mail")])
    assert "identity.unverified_agent" in str(parked.value)


def test_ticket_numbers_have_no_gaps_when_a_batch_answers_itself(
    sessions: sessionmaker[Session],
):
    """Ticket ids are the numbers people quote; the batch allocates the ids of the tickets it
    will surely open in one go, and must not reserve one for a reply to its own messages, a
    tag, or a stranger's tag that turns out to open a ticket after all."""
    desk = desk_pipeline(sessions)
    outcomes = desk.deliver_batch(
        [
            email("ada@example.com", "a1@mail", subject="Printer"),
            email("ada@example.com", "a2@mail", in_reply_to=("a1@mail",)),
            email("bob@example.com", "b1@mail", subject="Invoice"),
            email("ada@example.com", "a3@mail", subject_tag=2),
            email("eve@example.com", "e1@mail", subject_tag=1),
        ]
    )
    assert [ticket_of(desk, outcome.message_id) for outcome in outcomes] == [1, 1, 2, 3, 4]
    (later,) = desk.deliver_batch([email("cy@example.com", "c1@mail", subject="Login")])
    assert ticket_of(desk, later.message_id) == 5
