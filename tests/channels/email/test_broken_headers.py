"""Header blocks as broken mailers and mbox exports write them are read as their senders meant."""

from __future__ import annotations

from datetime import datetime

from tests.channels.email.sample_mail import mail, parsed
from threadline.channels.email.broken_header import repaired
from threadline.channels.email.unreadable import SUBJECT as UNREADABLE


def test_an_mbox_from_line_before_the_header_is_skipped():
    raw = b"From ada@example.com Mon Mar  2 09:00:00 2026\r\n" + mail()

    inbound = parsed(raw)

    assert inbound.subject == "Printer broken"
    assert inbound.sender.value == "ada@example.com"
    assert inbound.hints.own_id == "a1@mail.example.com"


def test_a_banner_before_the_header_is_skipped():
    inbound = parsed(b"---- Original email message ----\n" + mail().replace(b"\r\n", b"\n"))

    assert (inbound.subject, inbound.sender.value) == ("Printer broken", "ada@example.com")
    assert inbound.subject != UNREADABLE


def test_a_continuation_without_whitespace_keeps_the_fields_below_it():
    raw = (
        b"To: support@example.com\r\n"
        b"Subject: Printer broken on the\r\n"
        b"second floor, again\r\n"
        b"From: Ada Lovelace <ada@example.com>\r\n"
        b"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
        b"Message-ID: <a1@mail.example.com>\r\n"
        b"\r\n"
        b"It prints blank pages.\r\n"
    )

    inbound = parsed(raw)

    assert inbound.subject == "Printer broken on the second floor, again"
    assert inbound.sender.value == "ada@example.com"
    assert inbound.sent_at == datetime(2026, 3, 2, 8, 0)
    assert inbound.full_text == "It prints blank pages."


def test_a_sound_header_is_left_as_it_is():
    raw = mail()

    assert repaired(raw) is raw


def test_body_lines_after_the_last_field_stay_body():
    """A mail without the blank line after its header: the parser's own reading stands."""
    raw = b"From: ada@example.com\r\nSubject: Hi\r\nHello there.\r\nRegards\r\n"

    assert repaired(raw) == raw
    assert parsed(raw).subject == "Hi"
