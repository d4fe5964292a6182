"""A mail nothing can read still reaches the desk, as it arrived; only one without any sender is
parked."""

from __future__ import annotations

import pytest

from tests.channels.email.sample_mail import parsed
from threadline.channels.email.unreadable import SUBJECT
from threadline.core.outcome import Park

GARBAGE = bytes(range(256)) * 4


def test_garbage_is_kept_as_an_attachment_from_the_envelope_sender():
    inbound = parsed(GARBAGE, mail_from="ada@example.com", rcpt_tos=["support@example.com"])

    assert inbound.sender.value == "ada@example.com"
    assert inbound.subject == SUBJECT
    (attachment,) = inbound.attachments
    assert (attachment.filename, attachment.content_type, attachment.content) == (
        "message.eml",
        "message/rfc822",
        GARBAGE,
    )
    assert inbound.receiving_address == "support@example.com"


def test_garbage_gets_a_stable_id_of_its_own():
    first = parsed(GARBAGE, mail_from="ada@example.com").hints.own_id

    assert first == parsed(GARBAGE, mail_from="ada@example.com").hints.own_id
    assert first.endswith("@threadline.invalid")


def test_a_sender_line_in_the_garbage_is_found_as_a_last_resort():
    raw = b"\xff\xfe\x00 not a header\n\x01 nor this\nFrom: =?bad?= <ada@example.com>\n\nbody"

    inbound = parsed(raw)

    assert (inbound.sender.value, inbound.subject) == ("ada@example.com", SUBJECT)


def test_garbage_without_any_sender_is_parked():
    with pytest.raises(Park, match="no sender address anywhere"):
        parsed(GARBAGE)


def test_an_empty_message_without_sender_is_parked():
    with pytest.raises(Park):
        parsed(b"")


def test_a_mail_the_stdlib_parser_raises_on_is_kept_from_its_from_line():
    # A NUL in an RFC 2231 charset makes compat32's boundary lookup raise ValueError.
    raw = (
        b"From: Ada <ada@example.com>\nSubject: hi\n"
        b"Content-Type: multipart/mixed; boundary*=utf\x00-8''abc\n\n--abc\n\nhello\n--abc--\n"
    )

    inbound = parsed(raw)

    assert (inbound.sender.value, inbound.subject) == ("ada@example.com", SUBJECT)
    assert inbound.attachments[0].content == raw
