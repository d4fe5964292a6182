"""WhatsApp through Twilio end to end: the daemon as a subprocess on each database, the real
twilio SDK against a local fake of Twilio's API, webhooks signed with the real algorithm."""

from __future__ import annotations

import smtplib
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.slack.conftest import recorded
from tests.support.daemon import THREADLINE, DaemonProcess, eventually
from tests.support.desk_process import desk_daemon, inbound_items, run_threadline, settled
from tests.support.fake_slack import TEAM_ID, FakeSlack
from tests.support.fake_twilio import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    FakeTwilio,
    message_form,
    signed_webhook,
)
from tests.support.slack_events import event_envelope, signed_request
from tests.support.smtp_sink import SmtpSink
from threadline.core.models import Attachment, Client, InboundItem, Message, OutboxItem, Ticket

PUBLIC_URL = "https://desk.example.com/hooks"
"""What Twilio calls: a proxy's URL, not the daemon's own address."""
AGENT_EMAIL = "grace@staff.example"
ADA = "+14155550100"
TEMPLATE = "HX00000000000000000000000000000001"
WAIT_S = 20.0


@dataclass
class WhatsAppDesk:
    daemon: DaemonProcess
    twilio: FakeTwilio
    sink: SmtpSink
    smtp_port: int
    sessions: sessionmaker[Session]
    config: Path
    _sids: Iterator[int]

    def sid(self) -> str:
        return f"SM{next(self._sids):032x}"

    def post(self, form: dict[str, str], headers: dict[str, str] | None = None) -> int:
        data = urllib.parse.urlencode(form).encode()
        signed = signed_webhook(f"{PUBLIC_URL}/twilio/whatsapp", form)
        url = f"http://127.0.0.1:{self.daemon.port}/twilio/whatsapp"
        request = urllib.request.Request(url, data=data, headers=headers or signed)
        try:
            with urllib.request.urlopen(request, timeout=WAIT_S) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def message(self, body: str, **fields: str) -> dict[str, str]:
        return message_form(self.sid(), ADA, body, **fields)

    def threadline(self, *args: str) -> str:
        return run_threadline(self.config, *args)

    def items(self) -> list[InboundItem]:
        return inbound_items(self.sessions)

    def settled(self) -> list[InboundItem]:
        return settled(self.sessions, WAIT_S)

    def messages(self) -> list[Message]:
        with self.sessions() as session:
            return list(session.scalars(select(Message).order_by(Message.id)))


@pytest.fixture
def start_desk(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> Iterator[Callable[..., WhatsAppDesk]]:
    """Starts the desk, with ``template`` as whatsapp.template_content_sid, ``extra`` TOML,
    ``commands`` run before the daemon starts, and Twilio's API key for our calls if
    ``api_key``."""
    with ExitStack() as stack:

        def start(
            template: str,
            extra: str = "",
            commands: Sequence[tuple[str, ...]] = (),
            api_key: bool = False,
        ) -> WhatsAppDesk:
            twilio = stack.enter_context(FakeTwilio(api_key=api_key))
            if api_key:
                extra = f'api_key = "{API_KEY}"\napi_secret = "{API_SECRET}"\n' + extra
            sink = stack.enter_context(SmtpSink())
            daemon, smtp_port = stack.enter_context(
                desk_daemon(
                    tmp_path,
                    db_url,
                    sink.port,
                    f'\n[whatsapp]\nenabled = true\naccount_sid = "{ACCOUNT_SID}"\n'
                    f'auth_token = "{AUTH_TOKEN}"\nfrom_number = "+14155238886"\n'
                    f'public_url = "{PUBLIC_URL}"\napi_base_url = "{twilio.url}"\n'
                    f'template_content_sid = "{template}"\n' + extra,
                    commands=[("users", "add", "Grace Hopper", AGENT_EMAIL), *commands],
                    max_attempts=2,
                )
            )
            twilio.proxy = (PUBLIC_URL, f"http://127.0.0.1:{daemon.port}")
            return WhatsAppDesk(daemon, twilio, sink, smtp_port, sessions, daemon.config, count(1))

        yield start


@pytest.fixture
def desk(start_desk: Callable[..., WhatsAppDesk]) -> WhatsAppDesk:
    return start_desk(TEMPLATE)


def answer_by_mail(
    desk: WhatsAppDesk, text: str, files: Sequence[tuple[str, str, bytes]] = ()
) -> None:
    """The agent answers the latest mail they got, with ``files`` (name, type, content)."""
    notification = eventually("the agent's mail", lambda: desk.sink.received)[-1].message
    (reply_to,) = notification["Reply-To"].addresses
    mail = EmailMessage()
    mail["From"] = f"Grace Hopper <{AGENT_EMAIL}>"
    mail["To"] = reply_to.addr_spec
    mail["Subject"] = f"Re: {notification['Subject']}"
    mail.set_content(text)
    for name, content_type, content in files:
        maintype, subtype = content_type.split("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    with smtplib.SMTP("127.0.0.1", desk.smtp_port, timeout=WAIT_S) as client:
        assert client.sendmail(AGENT_EMAIL, [reply_to.addr_spec], mail.as_bytes(policy=SMTP)) == {}


def test_forged_and_unsigned_webhooks_are_refused_a_proxied_one_is_taken_once(desk: WhatsAppDesk):
    form = desk.message("Hello?")
    forged = {**signed_webhook(f"{PUBLIC_URL}/twilio/whatsapp", form), "X-Twilio-Signature": "x"}
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}

    assert desk.post(form, forged) == 403
    assert desk.post(form, unsigned) == 403
    assert desk.items() == []
    # Signed for the public URL, though it reaches the daemon at another address; and retried.
    assert desk.post(form) == 200
    assert desk.post(form) == 200

    (item,) = desk.settled()
    assert (item.dedup_key, item.status) == (form["MessageSid"], "done")
    (message,) = desk.messages()
    assert (message.channel, message.body) == ("whatsapp", "Hello?")
    with desk.sessions() as session:
        assert session.scalars(select(Client.name)).all() == ["Ada Lovelace"]


def test_a_client_known_by_phone_is_recognised_and_messages_continue_their_ticket(
    desk: WhatsAppDesk,
):
    desk.threadline("clients", "add", "Ada L.", "-e", "phone", ADA)

    desk.post(desk.message("My parcel is late."))
    desk.post(desk.message("", Latitude="51.5", Longitude="-0.12", Label="Depot"))

    desk.settled()
    messages = desk.messages()
    assert len({m.ticket_id for m in messages}) == 1
    assert len({m.client_id for m in messages}) == 1
    assert messages[1].body == (
        "Location: Depot (51.5, -0.12) https://maps.google.com/?q=51.5,-0.12"
    )
    with desk.sessions() as session:
        assert session.scalars(select(Client.name)).all() == ["Ada L."]


def test_a_quoted_message_threads_to_its_ticket_not_the_latest(desk: WhatsAppDesk):
    first = desk.message("Order 1 is broken.")
    desk.post(first)
    desk.settled()
    with desk.sessions() as session:
        client_id = session.scalars(select(Client.id)).one()
    desk.threadline("clients", "link", str(client_id), "email", "ada@example.com")
    mail = "From: ada@example.com\r\nTo: support@desk.example\r\nSubject: Invoice\r\n\r\nWrong.\r\n"
    with smtplib.SMTP("127.0.0.1", desk.smtp_port, timeout=WAIT_S) as client:
        client.sendmail("ada@example.com", ["support@desk.example"], mail.encode())

    desk.post(desk.message("A photo of order 1.", OriginalRepliedMessageSid=first["MessageSid"]))
    desk.post(desk.message("And the invoice?"))

    eventually("four messages", lambda: len(desk.messages()) == 4, WAIT_S)
    desk.settled()
    order, invoice, quoted, latest = (m.ticket_id for m in desk.messages())
    assert quoted == order != invoice
    assert latest == invoice


def test_every_media_item_is_kept_retried_until_ready_or_named_when_never_had(
    desk: WhatsAppDesk,
):
    twilio = desk.twilio
    urls = [
        twilio.host_media("photo", b"JPEG", "image/jpeg"),
        twilio.host_media("voice", b"OGG", "audio/ogg", not_found=2),
        twilio.host_media("gone", b"", "image/png", not_found=-1),
    ]
    media = {f"MediaUrl{n}": url for n, url in enumerate(urls)}
    types = {
        f"MediaContentType{n}": t for n, t in enumerate(["image/jpeg", "audio/ogg", "image/png"])
    }

    desk.post(desk.message("See attached", NumMedia="3", **media, **types))

    (item,) = desk.settled()
    assert (item.status, item.attempts) == ("done", 1)
    (message,) = desk.messages()
    assert message.body == "See attached\n[File media-3.png not kept: Twilio answered HTTP 404]"
    with desk.sessions() as session:
        kept = session.execute(select(Attachment.filename, Attachment.content_type)).all()
    assert sorted(tuple(row) for row in kept) == [
        ("media-1.jpg", "image/jpeg"),
        ("media-2.oga", "audio/ogg"),
    ]
    # Each try of the item fetches its media again: 404, 404, then the file; once more.
    assert twilio.downloads("voice") == 4
    assert twilio.downloads("gone") == 6


def test_a_reply_inside_the_window_is_free_text_outside_it_the_template(desk: WhatsAppDesk):
    desk.post(desk.message("Can I change my order?"))
    answer_by_mail(desk, "Yes, until it ships.")

    (sent,) = desk.twilio.wait_for_sent(1)
    assert (sent["To"], sent["From"]) == (f"whatsapp:{ADA}", "whatsapp:+14155238886")
    assert sent["Body"].startswith("Yes, until it ships.")
    assert "ContentSid" not in sent

    with desk.sessions.begin() as session:
        for message in session.scalars(select(Message)):
            message.created_at -= timedelta(hours=25)
    answer_by_mail(desk, "It has shipped now.")

    later = desk.twilio.wait_for_sent(2)[1]
    assert later["ContentSid"] == TEMPLATE
    assert "It has shipped now." in later["ContentVariables"]
    assert "Body" not in later


def test_a_rate_limit_is_retried_and_a_refusal_parks_with_twilios_code(desk: WhatsAppDesk):
    row = parked_reply(desk, refusals=[(429, 20429), (400, 21211)])
    assert row.attempts == 2
    assert "21211" in row.last_error


def parked_reply(desk: WhatsAppDesk, refusals: list[tuple[int, int]]) -> OutboxItem:
    """The agent's answer to a client's message, parked after Twilio's ``refusals``."""
    desk.twilio.refusals = refusals
    desk.post(desk.message("Hello"))
    answer_by_mail(desk, "Hi!")
    return eventually(
        "the reply parked",
        lambda: [r for r in outbox(desk) if r.channel == "whatsapp" and r.status == "parked"],
        WAIT_S,
    )[0]


def outbox(desk: WhatsAppDesk) -> list[OutboxItem]:
    with desk.sessions() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def recorded_send(desk: WhatsAppDesk) -> tuple[dict[str, str], OutboxItem]:
    """The one message sent, once its row records it: a status report about it names it."""
    (sent,) = desk.twilio.wait_for_sent(1)
    (row,) = eventually(
        "the send recorded", lambda: [r for r in outbox(desk) if r.provider_id == sent["sid"]]
    )
    return sent, row


def post_status(desk: WhatsAppDesk, sid: str, status: str, **fields: str) -> int:
    form = {"MessageSid": sid, "MessageStatus": status, "To": f"whatsapp:{ADA}", **fields}
    data = urllib.parse.urlencode(form).encode()
    headers = signed_webhook(f"{PUBLIC_URL}/twilio/status", form)
    url = f"http://127.0.0.1:{desk.daemon.port}/twilio/status"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:  # noqa: S310
        return response.status


def test_status_callbacks_only_move_forward_whatever_their_order(desk: WhatsAppDesk):
    desk.post(desk.message("Hi"))
    answer_by_mail(desk, "Hello!")
    sent, reply = recorded_send(desk)
    assert sent["StatusCallback"] == f"{PUBLIC_URL}/twilio/status"

    for status in ("delivered", "sent", "delivered", "read", "delivered"):
        assert post_status(desk, sent["sid"], status) == 200

    items = desk.settled()
    statuses = [item.status for item in items if item.dedup_key.startswith(sent["sid"])]
    # delivered moves the row; sent comes too late; read moves it; the repeats are not stored.
    assert statuses == ["done", "ignored", "done"]
    with desk.sessions() as session:
        assert session.get(OutboxItem, reply.id).delivery_status == "read"


def test_a_failed_reply_is_noted_on_the_ticket_with_twilios_reason_and_the_agent_told(
    desk: WhatsAppDesk,
):
    desk.post(desk.message("Hi"))
    answer_by_mail(desk, "Hello!")
    sent, _reply = recorded_send(desk)

    post_status(desk, sent["sid"], "undelivered", ErrorCode="63024")

    told = eventually(
        "the agent told",
        lambda: [r for r in desk.sink.received if "Reply not delivered" in r.message["Subject"]],
        WAIT_S,
    )
    assert told[0].rcpt_tos == (AGENT_EMAIL,)
    note = [m for m in desk.messages() if m.is_system_message][-1]
    assert note.is_internal
    assert "Twilio error 63024: the recipient is not a valid WhatsApp user" in note.body


def test_outside_the_window_without_a_template_a_reply_goes_by_mail_or_the_agent_hears(
    start_desk: Callable[..., WhatsAppDesk],
):
    desk = start_desk("")
    desk.post(desk.message("Are you there?"))
    desk.settled()
    with desk.sessions.begin() as session:
        for message in session.scalars(select(Message)):
            message.created_at -= timedelta(hours=25)

    answer_by_mail(desk, "Sorry for the wait.")
    told = eventually(
        "the agent told",
        lambda: [r for r in desk.sink.received if "Reply not delivered" in r.message["Subject"]],
        WAIT_S,
    )
    assert told[0].rcpt_tos == (AGENT_EMAIL,)
    assert desk.twilio.sent == []

    with desk.sessions() as session:
        client_id = session.scalars(select(Client.id)).one()
    desk.threadline("clients", "link", str(client_id), "email", "ada@example.com")
    answer_by_mail(desk, "Here is the answer, by mail then.")
    mailed = eventually(
        "the reply by mail",
        lambda: [r for r in desk.sink.received if r.rcpt_tos == ("ada@example.com",)],
        WAIT_S,
    )
    assert (
        "Here is the answer, by mail then." in mailed[0].message.get_body(("plain",)).get_content()
    )
    notes = [m.body for m in desk.messages() if m.is_system_message]
    assert any("it went by email to ada@example.com instead" in note for note in notes)


def test_an_agents_reply_in_the_slack_agents_channel_reaches_the_whatsapp_client(
    start_desk: Callable[..., WhatsAppDesk],
):
    secret = "slack-signing-secret"
    with FakeSlack() as slack:
        slack.add_user("U0GRACE", TEAM_ID, "Grace Hopper", AGENT_EMAIL)
        desk = start_desk(
            TEMPLATE,
            extra=f'\n[slack]\nenabled = true\nsigning_secret = "{secret}"\n'
            f'bot_token = "{slack.token}"\napi_base_url = "{slack.api_url}"\n'
            'agents_channel = "C0AGENTS"\n',
            commands=[("users", "link", AGENT_EMAIL, "slack", f"{TEAM_ID}:U0GRACE")],
        )
        desk.post(desk.message("Where is my parcel?"))
        (root,) = slack.wait_for_posts(1)
        assert "Where is my parcel?" in root["text"]

        reply = {
            "type": "message",
            "channel": "C0AGENTS",
            "channel_type": "channel",
            "user": "U0GRACE",
            "team": TEAM_ID,
            "text": "It arrives tomorrow.",
            "ts": f"{root['ts'].split('.')[0]}.999999",
            "thread_ts": recorded(desk.sessions, root),
        }
        data, headers = signed_request(secret, event_envelope(reply, event_id="Ev1"))
        url = f"http://127.0.0.1:{desk.daemon.port}/slack/events"
        request = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:  # noqa: S310
            assert response.status == 200

        (sent,) = desk.twilio.wait_for_sent(1)
        assert (sent["To"], sent["Body"]) == (f"whatsapp:{ADA}", "It arrives tomorrow.")


def test_a_new_ticket_is_acknowledged_in_words_of_ours_not_the_clients_own(
    start_desk: Callable[..., WhatsAppDesk],
):
    desk = start_desk(TEMPLATE, extra="\n[tickets]\nacknowledge_new_tickets = true\n")

    desk.post(desk.message("My card was charged twice."))

    (sent,) = desk.twilio.wait_for_sent(1)
    assert sent["To"] == f"whatsapp:{ADA}"
    assert sent["Body"].startswith("Thank you for your message. It is now ticket #")
    assert "charged twice" not in sent["Body"]


PDF = b"%PDF-1.4 the invoice"
PNG = b"\x89PNG\r\n\x1a\n the photo"


def test_an_agents_files_reach_the_client_one_per_message_through_expiring_links(
    desk: WhatsAppDesk,
):
    desk.post(desk.message("Can I have my invoice?"))
    answer_by_mail(
        desk,
        "Here it is, with a photo of the parcel.",
        [("invoice.pdf", "application/pdf", PDF), ("parcel.png", "image/png", PNG)],
    )

    first, second = desk.twilio.wait_for_sent(2)
    assert first["Body"].startswith("Here it is, with a photo of the parcel.")
    assert first["MediaUrl"].startswith(f"{PUBLIC_URL}/twilio/media/")
    assert first["MediaUrl"].endswith("/invoice.pdf")
    assert "Body" not in second
    assert second["MediaUrl"].endswith("/parcel.png")
    assert [(f.status, f.content_type, f.content) for f in desk.twilio.fetched] == [
        (200, "application/pdf", PDF),
        (200, "image/png", PNG),
    ]
    # The row records the first message: its delivery is the one tracked.
    eventually(
        "the send recorded", lambda: [r for r in outbox(desk) if r.provider_id == first["sid"]]
    )

    forged = first["MediaUrl"].replace(PUBLIC_URL, f"http://127.0.0.1:{desk.daemon.port}")
    link = forged.split("/")[-2]
    forged = forged.replace(link, link[:-1] + ("a" if link[-1] != "a" else "b"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=WAIT_S)  # noqa: S310
    assert refused.value.code == 403


def test_with_send_media_off_a_reply_names_its_files_and_sends_its_text(
    start_desk: Callable[..., WhatsAppDesk],
):
    desk = start_desk(TEMPLATE, extra="send_media = false\n")
    desk.post(desk.message("Can I have my invoice?"))
    answer_by_mail(desk, "Attached.", [("invoice.pdf", "application/pdf", PDF)])

    (sent,) = desk.twilio.wait_for_sent(1)
    assert sent["Body"] == "Attached.\n\n(Files not sent on WhatsApp: invoice.pdf)"
    assert "MediaUrl" not in sent
    assert desk.twilio.fetched == []


def test_a_shared_contact_is_kept_and_written_into_the_message(desk: WhatsAppDesk):
    card = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alan Turing\r\n"
        b"TEL;type=CELL:+44 7700 900123\r\nEND:VCARD\r\n"
    )
    url = desk.twilio.host_media("card", card, "text/vcard")
    desk.post(desk.message("", NumMedia="1", MediaUrl0=url, MediaContentType0="text/vcard"))

    (item,) = desk.settled()
    assert item.status == "done"
    (message,) = desk.messages()
    assert message.body == "Contact: Alan Turing, +44 7700 900123"
    with desk.sessions() as session:
        ticket_title = session.scalars(select(Ticket.title)).one()
        kept = session.execute(select(Attachment.filename, Attachment.content_type)).one()
    assert ticket_title == "Contact: Alan Turing, +44 7700 900123"
    assert tuple(kept) == ("media-1.vcf", "text/vcard")


def test_with_an_api_key_our_calls_and_downloads_authenticate_with_it(
    start_desk: Callable[..., WhatsAppDesk],
):
    desk = start_desk(TEMPLATE, api_key=True)
    url = desk.twilio.host_media("photo", b"JPEG", "image/jpeg")
    desk.post(desk.message("Broken", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg"))
    (item,) = desk.settled()
    assert item.status == "done"
    with desk.sessions() as session:
        assert session.scalars(select(Attachment.filename)).all() == ["media-1.jpg"]

    answer_by_mail(desk, "We send a new one.")
    (sent,) = desk.twilio.wait_for_sent(1)
    assert sent["Body"].startswith("We send a new one.")


def test_outbox_retry_sends_a_parked_reply_again_and_never_a_sent_one_twice(
    desk: WhatsAppDesk,
):
    row = parked_reply(desk, refusals=[(400, 21211)])
    assert desk.twilio.sent == []

    desk.threadline("outbox", "retry", str(row.id))

    (sent,) = desk.twilio.wait_for_sent(1)
    retried = eventually(
        "the retry recorded",
        lambda: [r for r in outbox(desk) if r.id == row.id and r.status == "sent"],
        WAIT_S,
    )[0]
    assert retried.provider_id == sent["sid"]
    again = subprocess.run(
        [str(THREADLINE), "outbox", "retry", str(row.id), "--config", str(desk.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode != 0
    assert "does not send a row twice" in again.stderr
    assert len(desk.twilio.sent) == 1
