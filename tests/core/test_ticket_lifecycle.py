"""Status, agent commands and what leaves the desk because of a message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import DeskPipeline, desk_pipeline
from tests.support.messages import email, whatsapp
from threadline.core.agent_commands import parse_agent_reply
from threadline.core.models import (
    AgentSettings,
    ClientExternalId,
    Message,
    Notification,
    OutboxItem,
    Tag,
    Ticket,
    User,
    UserOAuthAccount,
    ticket_assignments,
    ticket_tags,
)
from threadline.core.normalized import Classification
from threadline.core.settings import TicketSettings
from threadline.core.tokens import ReplyToken

AGENT = "grace@desk.example"


@pytest.fixture
def desk(sessions: sessionmaker[Session]) -> DeskPipeline:
    desk = desk_pipeline(sessions, tickets=TicketSettings(sender_rate_limit=5))
    with sessions.begin() as session:
        session.add_all(
            [
                User(name="Grace", email=AGENT, type="agent"),
                User(name="Alan", email="alan@desk.example", type="agent"),
            ]
        )
    return desk


def agent_id(desk: DeskPipeline, address: str = AGENT) -> int:
    with desk.sessions() as session:
        return session.scalar(select(User.id).where(User.email == address))


def open_ticket(desk: DeskPipeline, sender: str = "ada@example.com") -> int:
    outcome = desk.deliver(email(sender, f"root-{sender}@mail", subject="Printer on fire"))
    with desk.sessions() as session:
        return session.get(Message, outcome.message_id).ticket_id


def agent_reply(desk: DeskPipeline, ticket_id: int, body: str, own_id: str = "agent@mail"):
    token = desk.signer.sign(ReplyToken(ticket_id, agent_id(desk)))
    return desk.deliver(email(AGENT, own_id, body=body, reply_token=token))


def ticket(desk: DeskPipeline, ticket_id: int) -> Ticket:
    with desk.sessions() as session:
        return session.get(Ticket, ticket_id)


def outbox(desk: DeskPipeline, **where: object) -> list[OutboxItem]:
    with desk.sessions() as session:
        return list(session.scalars(select(OutboxItem).filter_by(**where).order_by(OutboxItem.id)))


def test_a_client_message_opens_an_open_ticket_and_notifies_every_agent(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    assert ticket(desk, ticket_id).status == "open"
    notes = outbox(desk, kind="notification")
    assert sorted(row.recipient for row in notes) == ["alan@desk.example", AGENT]
    assert {row.payload["type"] for row in notes} == {"ticket_created"}
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 2


def test_notifications_go_on_the_channel_each_agent_chose_if_they_have_an_id_on_it(
    desk: DeskPipeline,
):
    grace, alan = agent_id(desk), agent_id(desk, "alan@desk.example")
    with desk.sessions.begin() as session:
        session.add_all(
            [
                AgentSettings(user_id=grace, notification_channel="slack"),
                AgentSettings(user_id=alan, notification_channel="slack"),
                UserOAuthAccount(user_id=grace, provider="slack", provider_user_id="T1:UGRACE"),
            ]
        )

    open_ticket(desk)

    notes = {row.payload["agent_id"]: row for row in outbox(desk, kind="notification")}
    assert (notes[grace].channel, notes[grace].recipient) == ("slack", "T1:UGRACE")
    # Alan has no Slack account: the default channel still reaches him.
    assert (notes[alan].channel, notes[alan].recipient) == ("email", "alan@desk.example")


def test_a_ticket_is_open_until_an_agent_acts_then_it_waits_in_turn(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    more = email("ada@example.com", "more@mail", in_reply_to=("root-ada@example.com@mail",))
    desk.deliver(more)
    assert ticket(desk, ticket_id).status == "open"
    agent_reply(desk, ticket_id, "#tag printers", own_id="tag@mail")
    assert ticket(desk, ticket_id).status == "open"
    agent_reply(desk, ticket_id, f"#assign {AGENT}", own_id="assign@mail")
    assert ticket(desk, ticket_id).status == "waiting_for_agent"

    other = open_ticket(desk, "bob@example.com")
    agent_reply(desk, other, "On it.", own_id="answer@mail")
    assert ticket(desk, other).status == "waiting_for_user"
    again = email("bob@example.com", "again@mail", in_reply_to=("root-bob@example.com@mail",))
    desk.deliver(again)
    assert ticket(desk, other).status == "waiting_for_agent"
    agent_reply(desk, other, "#status unresolved", own_id="unresolved@mail")
    assert ticket(desk, other).status == "unresolved"


def test_an_agents_reply_waits_for_the_user_and_goes_to_the_client(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    outcome = agent_reply(desk, ticket_id, "Have you tried water?")
    assert ticket(desk, ticket_id).status == "waiting_for_user"
    (reply,) = outbox(desk, kind="reply")
    assert (reply.channel, reply.recipient) == ("email", "ada@example.com")
    assert reply.message_id == outcome.message_id
    assert reply.payload["body"] == "Have you tried water?"


def test_an_agents_email_reply_to_a_whatsapp_client_goes_out_on_whatsapp(desk: DeskPipeline):
    first = desk.deliver(whatsapp("+14155552671", "Where is my order?", "SM1"))
    with desk.sessions() as session:
        ticket_id = session.get(Message, first.message_id).ticket_id
    agent_reply(desk, ticket_id, "On its way")
    (reply,) = outbox(desk, kind="reply")
    assert (reply.channel, reply.recipient) == ("whatsapp", "+14155552671")


def test_an_out_of_office_answer_changes_no_status_and_sends_nothing(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    agent_reply(desk, ticket_id, "Fixed?")
    before = len(outbox(desk))
    auto = email(
        "ada@example.com",
        "ooo@mail",
        body="I am away",
        in_reply_to=("agent@mail",),
        classification=Classification.AUTO_REPLY,
    )
    outcome = desk.deliver(auto)
    assert outcome.status == "done"
    assert ticket(desk, ticket_id).status == "waiting_for_user"
    assert len(outbox(desk)) == before


def test_our_own_message_coming_back_is_ignored(desk: DeskPipeline):
    outcome = desk.deliver(
        email("ada@example.com", "loop@mail", classification=Classification.LOOP)
    )
    assert outcome.status == "ignored"
    assert outbox(desk) == []


def test_a_storm_from_one_sender_is_stored_but_triggers_nothing_past_the_limit(
    desk: DeskPipeline,
):
    for number in range(8):
        assert desk.deliver(email("storm@example.com", f"storm{number}@mail")).status == "done"
    with desk.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Message))
    assert stored == 8
    assert len(outbox(desk, kind="notification")) == 5 * 2
    desk.clock.advance(hours=2)
    desk.deliver(email("storm@example.com", "storm-later@mail"))
    assert len(outbox(desk, kind="notification")) == 6 * 2


def test_acknowledgement_is_off_by_default_and_sent_once_when_on(
    sessions: sessionmaker[Session],
):
    quiet = desk_pipeline(sessions)
    quiet.deliver(email("ada@example.com", "q1@mail"))
    assert outbox(quiet, kind="acknowledgement") == []
    loud = desk_pipeline(sessions, tickets=TicketSettings(acknowledge_new_tickets=True))
    loud.deliver(email("bob@example.com", "q2@mail"))
    loud.deliver(email("bob@example.com", "q3@mail", in_reply_to=("q2@mail",)))
    loud.deliver(email("carol@example.com", "q4@mail", classification=Classification.AUTO_REPLY))
    (ack,) = outbox(loud, kind="acknowledgement")
    assert ack.recipient == "bob@example.com"


def test_close_command_closes_and_is_not_sent(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    agent_reply(desk, ticket_id, "#close\nGlad it works now.")
    closed = ticket(desk, ticket_id)
    assert closed.status == "closed"
    assert closed.closed_at == desk.clock.now
    (reply,) = outbox(desk, kind="reply")
    assert reply.payload["body"] == "Glad it works now."


def test_status_and_priority_commands(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    agent_reply(desk, ticket_id, "#status unresolved\n#priority urgent\nLooking into it.")
    changed = ticket(desk, ticket_id)
    assert (changed.status, changed.priority) == ("unresolved", "urgent")


def test_assign_and_tag_commands(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    agent_reply(desk, ticket_id, "#assign alan@desk.example\n#tag Billing\nPassing this on.")
    with desk.sessions() as session:
        assigned = session.scalars(
            select(ticket_assignments.c.user_id).where(ticket_assignments.c.ticket_id == ticket_id)
        ).all()
        tags = session.scalars(
            select(Tag.name).join(ticket_tags).where(ticket_tags.c.ticket_id == ticket_id)
        ).all()
    assert assigned == [agent_id(desk, "alan@desk.example")]
    assert tags == ["billing"]


def test_note_command_stores_an_internal_note_that_is_never_sent(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    outcome = agent_reply(desk, ticket_id, "#note customer is a VIP\nCall them back.")
    with desk.sessions() as session:
        note = session.get(Message, outcome.message_id)
        assert note.is_internal
        assert note.body == "customer is a VIP\n\nCall them back."
    assert outbox(desk, kind="reply") == []
    assert ticket(desk, ticket_id).status == "open"


def test_a_command_that_cannot_apply_leaves_an_internal_system_note(desk: DeskPipeline):
    ticket_id = open_ticket(desk)
    agent_reply(desk, ticket_id, "#priority whenever\nOk.")
    with desk.sessions() as session:
        system = session.scalars(
            select(Message).where(Message.ticket_id == ticket_id, Message.is_system_message)
        ).one()
    assert system.is_internal
    assert "#priority whenever: unknown priority" in system.body
    assert ticket(desk, ticket_id).priority == "medium"


def test_a_reply_of_only_commands_is_kept_as_an_internal_note_and_sends_nothing(
    desk: DeskPipeline,
):
    ticket_id = open_ticket(desk)
    outcome = agent_reply(desk, ticket_id, "#close")
    with desk.sessions() as session:
        assert session.get(Message, outcome.message_id).is_internal
    assert outbox(desk, kind="reply") == []
    assert ticket(desk, ticket_id).status == "closed"


def test_a_reply_starting_with_note_colon_is_an_internal_note():
    reply = parse_agent_reply("Note: the client is on the old plan.\nCheck before answering.")
    assert reply.internal
    assert reply.text == "the client is on the old plan.\n\nCheck before answering."
    assert not parse_agent_reply("Notes: see below").internal


def test_hashtags_in_the_body_are_text():
    reply = parse_agent_reply("Thanks!\n#close is what I would do")
    assert reply.commands == ()
    assert reply.text == "Thanks!\n#close is what I would do"


def test_a_reply_to_a_client_without_an_address_on_that_channel_says_so_on_the_ticket(
    desk: DeskPipeline,
):
    ticket_id = open_ticket(desk)
    with desk.sessions.begin() as session:
        session.execute(ClientExternalId.__table__.delete())
    agent_reply(desk, ticket_id, "Hello?")
    assert outbox(desk, kind="reply") == []
    with desk.sessions() as session:
        system = session.scalars(
            select(Message.body).where(Message.ticket_id == ticket_id, Message.is_system_message)
        ).one()
    assert system == "Reply not delivered: the client has no email address."
