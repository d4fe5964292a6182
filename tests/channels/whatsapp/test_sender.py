"""``WhatsAppSender`` in the process, through the real dispatcher and twilio SDK to the fake
Twilio API, on both databases: a row whose daemon died between its send and the record of it
finds its free text among our messages to the client instead of sending it again, and a 429
hands its Retry-After to the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support.outbox import dispatch_through_crash, enqueued
from threadline.channels.whatsapp.api import RestClients
from threadline.channels.whatsapp.media_links import MediaLinks
from threadline.channels.whatsapp.sender import WhatsAppSender
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import Client, ClientExternalId, Message, OutboxItem, Ticket
from threadline.core.models.base import now_utc
from threadline.core.outbox import Outgoing
from threadline.core.send_pace import SendPace
from threadline.core.senders import OutboxView, SenderRegistry, TransientSendError
from threadline.core.settings import DispatchSettings
from threadline.core.tokens import TokenSigner

ADA = "+14155550100"
DESK = "+14155238886"
TEMPLATE = "HX00000000000000000000000000000001"
PUBLIC_URL = "https://desk.example.com/hooks"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as twilio:
        yield twilio


@pytest.fixture
def settings(twilio: FakeTwilio) -> WhatsAppSettings:
    return WhatsAppSettings(
        enabled=True,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=DESK,
        public_url=PUBLIC_URL,
        api_base_url=twilio.url,
        template_content_sid=TEMPLATE,
    )


@pytest.fixture
def sender(sessions: sessionmaker[Session], settings: WhatsAppSettings) -> WhatsAppSender:
    links = MediaLinks(TokenSigner("token-secret"), PUBLIC_URL, timedelta(hours=4))
    return WhatsAppSender(sessions, settings, links, SendPace(sessions))


@pytest.fixture
def ticket_id(sessions: sessionmaker[Session]) -> int:
    """Ada's ticket; she wrote on WhatsApp just now, so her window is open."""
    with sessions.begin() as session:
        client = Client(name="Ada Lovelace")
        session.add(client)
        session.flush()
        ticket = Ticket(title="Where is my parcel?", client_id=client.id)
        session.add_all([ClientExternalId(client_id=client.id, type="whatsapp", value=ADA), ticket])
        session.flush()
        session.add(Message(ticket_id=ticket.id, client_id=client.id, body="?", channel="whatsapp"))
        return ticket.id


def queue_reply(sessions: sessionmaker[Session], ticket_id: int, body: str, key: str) -> int:
    reply = Outgoing(
        channel="whatsapp",
        kind="reply",
        recipient=ADA,
        payload={"body": body},
        idempotency_key=key,
        ticket_id=ticket_id,
    )
    return enqueued(sessions, reply)[0]


def dispatch(sessions: sessionmaker[Session], sender: WhatsAppSender) -> None:
    senders = SenderRegistry()
    senders.register("whatsapp", sender)
    Dispatcher(sessions, senders, DispatchSettings()).run_batch()


def row(sessions: sessionmaker[Session], row_id: int) -> OutboxItem:
    with sessions() as session:
        found = session.get(OutboxItem, row_id)
    assert found is not None
    return found


def view(sessions: sessionmaker[Session], row_id: int) -> OutboxView:
    item = row(sessions, row_id)
    return OutboxView(
        item.id,
        item.channel,
        item.kind,
        item.recipient,
        item.payload,
        item.ticket_id,
        item.message_id,
        item.attempts,
        item.created_at,
        item.idempotency_key,
    )


def test_a_resumed_reply_whose_message_went_out_records_it_and_sends_nothing(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=True)

    (sent,) = twilio.sent
    recorded = row(sessions, row_id)
    assert (recorded.status, recorded.provider_id) == ("sent", sent["sid"])
    assert recorded.delivery_status == "queued"
    (listed,) = twilio.listed
    assert (listed["To"], listed["From"]) == (f"whatsapp:{ADA}", f"whatsapp:{DESK}")
    since = recorded.created_at - timedelta(minutes=1)
    assert listed["DateSent>"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_resumed_reply_whose_message_never_went_out_is_sent_once(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=False)

    (sent,) = twilio.sent
    assert sent["Body"] == "It arrives tomorrow."
    assert row(sessions, row_id).provider_id == sent["sid"]
    assert len(twilio.listed) == 1


def test_a_reply_not_resumed_never_lists(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")

    dispatch(sessions, sender)

    assert len(twilio.sent) == 1
    assert twilio.listed == []


def test_the_same_text_another_row_recorded_is_not_taken_for_the_resumed_rows(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    queue_reply(sessions, ticket_id, "Thanks!", "reply:1")
    dispatch(sessions, sender)
    row_id = queue_reply(sessions, ticket_id, "Thanks!", "reply:2")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=False)

    first, second = twilio.sent
    assert row(sessions, row_id).provider_id == second["sid"] != first["sid"]


def test_an_earlier_send_that_failed_is_sent_again(
    sessions: sessionmaker[Session],
    twilio: FakeTwilio,
    sender: WhatsAppSender,
    settings: WhatsAppSettings,
    ticket_id: int,
):
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")
    earlier = (
        RestClients(settings)
        .client()
        .messages.create(
            to=f"whatsapp:{ADA}", from_=f"whatsapp:{DESK}", body="It arrives tomorrow."
        )
    )
    twilio.set_status(earlier.sid, "failed")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=False)

    assert len(twilio.sent) == 2
    assert row(sessions, row_id).provider_id == twilio.sent[1]["sid"]


def test_a_resumed_template_cannot_be_found_and_goes_again(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    with sessions.begin() as session:
        session.execute(update(Message).values(created_at=now_utc() - timedelta(hours=25)))
    queue_reply(sessions, ticket_id, "It has shipped.", "reply:1")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=True)

    assert [sent["ContentSid"] for sent in twilio.sent] == [TEMPLATE, TEMPLATE]


def test_a_list_twilio_refuses_is_passed_over_and_the_reply_sent(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    twilio.list_refusals = [(403, 20003)]
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=False)

    (sent,) = twilio.sent
    assert row(sessions, row_id).provider_id == sent["sid"]


def test_a_rate_limited_list_waits_its_retry_after(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")
    twilio.rate_limit_next(retry_after=30)

    dispatch_through_crash(sessions, "whatsapp", sender, after_send=False)

    assert twilio.sent == []
    waiting = row(sessions, row_id)
    assert (waiting.status, waiting.provider_id) == ("pending", None)
    assert waiting.last_error == "Twilio is rate limiting us"


def test_a_429_hands_its_retry_after_to_the_dispatcher(
    sessions: sessionmaker[Session], twilio: FakeTwilio, sender: WhatsAppSender, ticket_id: int
):
    row_id = queue_reply(sessions, ticket_id, "It arrives tomorrow.", "reply:1")
    twilio.rate_limit_next(retry_after=30)

    with pytest.raises(TransientSendError) as refused:
        sender.send(view(sessions, row_id))

    assert refused.value.retry_after is not None
    assert refused.value.retry_after >= 30
    assert twilio.sent == []
