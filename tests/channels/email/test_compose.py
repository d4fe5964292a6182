"""The mail the desk writes: addresses, tokens, threading headers, subjects, automatic-mail
headers, encoding, attachments, and no header injection from stored text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from threadline.channels.email.compose import (
    NOTICE_FOOTER,
    DeskAddress,
    Mail,
    MailAttachment,
    compose,
    message_id,
    recipient_address,
)
from threadline.channels.email.marker import LOOP_HEADER, REPLY_MARKER
from threadline.channels.email.parser import parse
from threadline.core.senders import PermanentSendError
from threadline.core.threader import verified_token
from threadline.core.tokens import ReplyToken, TokenSigner

SIGNER = TokenSigner("compose-test-secret")
DESK = DeskAddress.parse("support@desk.example")
DATE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REPLY = Mail(
    kind="reply",
    ticket_id=5,
    title="Printer on fire",
    body="Have you tried water?",
    recipient="ada@example.com",
    idempotency_key="reply:41",
    recipient_name="Ada Lovelace",
    client_name="Ada Lovelace",
    in_reply_to="root@mail.example",
    references=("first@mail.example", "root@mail.example"),
)
NOTIFICATION = replace(
    REPLY,
    kind="notification",
    body="It is on fire.\r\nPlease help.",
    recipient="grace@desk.example",
    idempotency_key="notification:40:3",
    recipient_name="Grace Hopper",
    agent_id=3,
    event="client_replied",
)

DIGEST = Mail(
    kind="notification",
    ticket_id=None,
    title="3 assigned to you, 1 overdue",
    body="Overdue:\n  #7 Server down (waiting_for_agent, urgent)",
    recipient="grace@desk.example",
    idempotency_key="digest:3:2026-03-02T07:00:00",
    recipient_name="Grace Hopper",
    event="digest",
)


def sent(mail: Mail, desk: DeskAddress = DESK) -> EmailMessage:
    """The mail as its recipient's server reads it: generated, then parsed again."""
    raw = compose(mail, desk, SIGNER, DATE).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def token_of_reply_to(message: EmailMessage) -> ReplyToken | None:
    local = message["Reply-To"].addresses[0].username
    return SIGNER.verify(local.split("+", 1)[1])


def threaded_by(*referenced: str) -> ReplyToken | None:
    """What threading makes of a mail that references ``referenced`` and nothing else, as
    the parser reads it."""
    ids = " ".join(f"<{id_}>" for id_ in referenced)
    raw = f"From: ada@example.com\r\nIn-Reply-To: {ids}\r\n\r\nThanks\r\n".encode()
    return verified_token(parse(raw, {}), SIGNER)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return "\n".join(part.get_content().splitlines())


class TestAddresses:
    def test_a_reply_comes_from_the_desk_to_the_client_by_name(self):
        message = sent(REPLY)
        assert message["From"] == "support@desk.example"
        assert message["To"] == "Ada Lovelace <ada@example.com>"

    def test_a_reply_to_the_client_carries_a_token_for_the_ticket_alone(self):
        message = sent(REPLY)
        assert message["Reply-To"].addresses[0].domain == "desk.example"
        assert message["Reply-To"].addresses[0].username.startswith("support+")
        assert token_of_reply_to(message) == ReplyToken(5)

    def test_a_notification_carries_a_token_that_speaks_as_its_agent(self):
        message = sent(NOTIFICATION)
        assert message["To"] == "Grace Hopper <grace@desk.example>"
        assert token_of_reply_to(message) == ReplyToken(5, 3)

    def test_a_client_created_from_their_address_is_not_named_twice(self):
        message = sent(replace(REPLY, recipient_name="ada@example.com"))
        assert message["To"] == "ada@example.com"

    def test_the_desk_address_may_carry_a_display_name(self):
        desk = DeskAddress.parse("Desk Support <support@Desk.Example>")
        message = sent(REPLY, desk)
        assert message["From"] == "Desk Support <support@desk.example>"
        assert message["Reply-To"].addresses[0].display_name == "Desk Support"

    def test_a_recipient_is_normalized(self):
        assert recipient_address(" Ada@Example.COM ") == "ada@example.com"


class TestMessageId:
    def test_it_embeds_a_token_that_threads_a_reply_to_the_ticket(self):
        own = sent(REPLY)["Message-ID"]
        assert own.startswith("<tl.")
        assert own.endswith("@desk.example>")
        assert threaded_by(own.strip("<>")) == ReplyToken(5)

    def test_it_never_speaks_as_an_agent_because_anyone_later_in_the_thread_sees_it(self):
        own = sent(NOTIFICATION)["Message-ID"].strip("<>")
        assert threaded_by(own) == ReplyToken(5)

    def test_it_is_the_same_for_every_resend_of_one_row(self):
        first = message_id(REPLY, DESK, SIGNER)
        resent = compose(REPLY, DESK, SIGNER, datetime(2026, 3, 3, tzinfo=UTC))
        assert resent["Message-ID"] == f"<{first}>"
        assert message_id(replace(REPLY, idempotency_key="reply:42"), DESK, SIGNER) != first


class TestThreading:
    def test_a_reply_answers_the_clients_last_message(self):
        message = sent(REPLY)
        assert message["In-Reply-To"] == "<root@mail.example>"
        assert message["References"] == "<first@mail.example> <root@mail.example>"

    def test_references_are_bounded_and_end_with_the_message_answered(self):
        earlier = tuple(f"m{number}@mail.example" for number in range(30))
        message = sent(replace(REPLY, references=earlier))
        ids = message["References"].split()
        assert len(ids) == 10
        assert ids[-1] == "<root@mail.example>"
        assert ids[:-1] == [f"<m{number}@mail.example>" for number in range(21, 30)]

    def test_a_first_mail_has_no_threading_headers(self):
        message = sent(replace(REPLY, in_reply_to=None, references=()))
        assert message["In-Reply-To"] is None
        assert message["References"] is None

    def test_stored_ids_that_are_not_ids_stay_out_of_the_headers(self):
        message = sent(
            replace(
                REPLY,
                in_reply_to="root@mail.example>\r\nBcc: victim@x",
                references=("ok@mail.example", "two words@x", "<x@y>", "no-at-sign"),
            )
        )
        assert message["In-Reply-To"] is None
        assert message["References"] == "<ok@mail.example>"
        assert message["Bcc"] is None


class TestSubject:
    @pytest.mark.parametrize(
        "title",
        [
            "Printer on fire",
            "Re: [#5] Printer on fire",
            "RE: Re: Printer on fire",
            "[#5] Printer on fire",
            "Fwd: AW: Printer on fire [#5]",
        ],
    )
    def test_a_reply_has_one_tag_and_one_re(self, title: str):
        assert sent(replace(REPLY, title=title))["Subject"] == "Re: [#5] Printer on fire"

    def test_another_tickets_tag_is_kept(self):
        assert sent(replace(REPLY, title="Re: [#4] Printer"))["Subject"] == "Re: [#5] [#4] Printer"

    def test_a_notification_names_a_new_ticket(self):
        message = sent(replace(NOTIFICATION, event="ticket_created"))
        assert message["Subject"] == "[#5] New ticket: Printer on fire"

    @pytest.mark.parametrize(
        ("event", "headline"),
        [
            ("ticket_assigned", "Assigned to you"),
            ("escalated", "Escalated"),
            ("status_changed", "Status changed"),
            ("note_added", "Internal note"),
            ("command_failed", "Your reply was not applied"),
        ],
    )
    def test_a_notification_of_the_lifecycle_says_what_happened(self, event: str, headline: str):
        message = sent(replace(NOTIFICATION, event=event, body="by grace@desk.example"))
        assert message["Subject"] == f"[#5] {headline}: Printer on fire"
        text = message.get_body(("plain",)).get_content()
        assert f"{headline}, ticket #5: Printer on fire" in text
        assert "#escalate [REASON]" in text

    def test_a_notification_names_the_client_who_replied(self):
        assert sent(NOTIFICATION)["Subject"] == "[#5] Ada Lovelace replied: Printer on fire"

    def test_an_empty_title_says_so(self):
        assert sent(replace(REPLY, title="Re: "))["Subject"] == "Re: [#5] (no subject)"


class TestAutomaticMail:
    def test_a_notification_is_auto_generated_and_asks_for_no_auto_response(self):
        message = sent(NOTIFICATION)
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"

    def test_an_acknowledgement_is_auto_replied(self):
        message = sent(replace(REPLY, kind="acknowledgement"))
        assert message["Auto-Submitted"] == "auto-replied"
        assert message["X-Auto-Response-Suppress"] == "All"

    def test_an_agents_reply_is_personal_mail(self):
        message = sent(REPLY)
        assert message["Auto-Submitted"] is None
        assert message["X-Auto-Response-Suppress"] is None

    @pytest.mark.parametrize("kind", ["reply", "notification", "acknowledgement"])
    def test_every_mail_carries_the_loop_header(self, kind: str):
        assert sent(replace(NOTIFICATION, kind=kind))[LOOP_HEADER] == "support@desk.example"


class TestEncoding:
    def test_non_ascii_subject_and_names_are_encoded_words_that_decode_back(self):
        mail = replace(REPLY, title="Drucker brennt – schnell! 🔥", recipient_name="Ada Lövelace")
        raw = compose(mail, DeskAddress.parse("Søren’s Desk <support@desk.example>"), SIGNER, DATE)
        header = raw.as_bytes().split(b"\r\n\r\n", 1)[0]
        assert header.isascii()
        assert b"=?utf-8?" in header
        message = message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert message["Subject"] == "Re: [#5] Drucker brennt – schnell! 🔥"
        assert message["To"].addresses[0].display_name == "Ada Lövelace"
        assert message["From"].addresses[0].display_name == "Søren’s Desk"

    def test_text_starts_with_the_reply_marker_and_html_is_escaped_text(self):
        message = sent(replace(REPLY, body="Use <b>force</b> & hope"))
        assert text_of(message).startswith(f"{REPLY_MARKER}\n\nUse <b>force</b> & hope")
        html = message.get_body(("html",))
        assert html is not None
        assert "Use &lt;b&gt;force&lt;/b&gt; &amp; hope" in html.get_content()
        assert "<b>" not in html.get_content()

    def test_a_notification_carries_the_clients_words_and_the_agent_commands(self):
        text = text_of(sent(NOTIFICATION))
        assert text.startswith(REPLY_MARKER)
        assert "It is on fire.\nPlease help." in text
        assert "Replying to this mail answers Ada Lovelace" in text
        for command in ("#note", "#close", "#status", "#priority", "#assign", "#tag"):
            assert command in text


class TestHeaderInjection:
    def test_a_title_with_a_line_break_adds_no_header(self):
        message = sent(replace(REPLY, title="Hi\r\nBcc: victim@x"))
        assert message["Bcc"] is None
        assert message["Subject"] == "Re: [#5] Hi Bcc: victim@x"

    def test_a_notification_subject_from_a_hostile_title_and_name_adds_no_header(self):
        mail = replace(NOTIFICATION, title="Hi\nBcc: a@x", client_name="Eve\r\nCc: b@x\x00")
        message = sent(mail)
        assert (message["Bcc"], message["Cc"]) == (None, None)
        assert message["Subject"] == "[#5] Eve Cc: b@x replied: Hi Bcc: a@x"

    def test_names_with_line_breaks_add_no_header(self):
        message = sent(replace(REPLY, recipient_name="Ada\r\nBcc: victim@x"))
        assert message["Bcc"] is None
        assert message["To"].addresses[0].display_name == "Ada Bcc: victim@x"

    @pytest.mark.parametrize(
        "address",
        ["ada@example.com\r\nBcc: victim@x", "ada@example.com\n", "ada@exa\x00mple.com", "ada"],
    )
    def test_a_recipient_that_is_not_one_clean_address_is_refused(self, address: str):
        with pytest.raises(PermanentSendError):
            recipient_address(address)

    def test_a_recipient_with_a_non_ascii_local_part_is_refused_saying_why(self):
        with pytest.raises(PermanentSendError, match="non-ASCII local part"):
            recipient_address("jörg@example.de")

    def test_a_desk_address_with_a_line_break_is_refused(self):
        with pytest.raises(ValueError, match=r"email\.address"):
            DeskAddress.parse("support@desk.example\r\nBcc: victim@x")


class TestAttachments:
    def test_the_stored_messages_attachments_are_included(self):
        files = (
            MailAttachment("report.pdf", "application/pdf", b"%PDF-1.7 report"),
            MailAttachment("Grüße.txt", "text/plain", "héllo".encode()),
            MailAttachment("odd\r\nname.bin", "not a type", b"\x00\x01"),
        )
        message = sent(replace(REPLY, attachments=files))
        found = [
            (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()
        ]
        assert found == [
            ("report.pdf", "application/pdf", b"%PDF-1.7 report"),
            ("Grüße.txt", "text/plain", "héllo".encode()),
            ("odd name.bin", "application/octet-stream", b"\x00\x01"),
        ]
        assert text_of(message).startswith(REPLY_MARKER)


class TestNotice:
    """A notification about no single ticket: nothing to tag, thread or answer into."""

    def test_its_subject_is_the_headline_and_its_subject_without_a_tag(self):
        assert sent(DIGEST)["Subject"] == "Your tickets: 3 assigned to you, 1 overdue"

    def test_it_has_no_reply_to_so_no_token_binds_an_answer_to_a_ticket(self):
        message = sent(DIGEST)
        assert message["Reply-To"] is None
        assert message["To"] == "Grace Hopper <grace@desk.example>"

    def test_its_message_id_is_stable_per_row_and_carries_no_ticket_token(self):
        own = message_id(DIGEST, DESK, SIGNER)
        assert own.startswith("tl.notice.")
        assert own.endswith("@desk.example")
        assert sent(DIGEST)["Message-ID"] == f"<{own}>"
        assert message_id(replace(DIGEST, idempotency_key="digest:3:x"), DESK, SIGNER) != own
        assert threaded_by(own) is None

    def test_it_is_auto_generated_mail(self):
        message = sent(DIGEST)
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message[LOOP_HEADER] == "support@desk.example"
        assert message["In-Reply-To"] is None

    def test_its_text_is_the_body_without_the_reply_marker_or_the_commands(self):
        assert text_of(sent(DIGEST)) == (
            "Overdue:\n  #7 Server down (waiting_for_agent, urgent)\n\n-- \n" + NOTICE_FOOTER
        )

    def test_a_subject_with_a_line_break_adds_no_header(self):
        message = sent(replace(DIGEST, title="Hi\r\nBcc: victim@example.com"))
        assert message["Bcc"] is None
        assert message["Subject"] == "Your tickets: Hi Bcc: victim@example.com"
