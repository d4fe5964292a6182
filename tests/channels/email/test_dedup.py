"""The accept-time key: a mail's Message-ID, found without parsing the mail."""

from __future__ import annotations

from threadline.channels.email.dedup import mail_dedup_key
from threadline.core.dedup import content_key


def test_the_message_id_is_the_key_whatever_else_differs():
    first = b"Delivered-To: a@desk.example\r\nMessage-ID: <m1@example.com>\r\n\r\nHi\r\n"
    second = b"Delivered-To: b@desk.example\r\nmessage-id:   <m1@example.com>\r\n\r\nHi!\r\n"
    assert mail_dedup_key(first) == mail_dedup_key(second) == "mid:m1@example.com"


def test_a_folded_message_id_is_joined():
    raw = b"Subject: x\nMessage-Id:\n <long.id@example.com>\nFrom: a@b\n\nbody\n"
    assert mail_dedup_key(raw) == "mid:long.id@example.com"


def test_the_first_message_id_counts_and_the_body_is_not_read():
    raw = (
        b"Message-ID: <first@example.com>\r\nMessage-ID: <second@example.com>\r\n\r\n"
        b"Message-ID: <in-body@example.com>\r\n"
    )
    assert mail_dedup_key(raw) == "mid:first@example.com"


def test_without_a_message_id_the_bytes_are_the_key():
    for raw in (
        b"From: a@b\r\n\r\nMessage-ID: <in-body@example.com>\r\n",
        b"From: a@b\r\nMessage-ID: <>\r\n\r\nhi\r\n",
        b"\r\nMessage-ID: <after-an-empty-header@example.com>\r\n",
    ):
        assert mail_dedup_key(raw) == content_key(raw)
