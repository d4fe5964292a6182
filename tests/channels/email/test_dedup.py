"""The accept-time key: a mail's Message-ID and a digest of what every re-delivery of it keeps
(From, Date, Subject), found without parsing the mail."""

from __future__ import annotations

from threadline.channels.email.dedup import delivery_id, mail_dedup_key
from threadline.core.dedup import content_key

HEAD = b"From: Ada <ada@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nSubject: Hi\r\n"


def test_a_redelivery_has_the_same_key_whatever_its_envelope_and_trace_lines():
    first = (
        b"Delivered-To: a@desk.example\r\n" + HEAD + b"Message-ID: <m1@example.com>\r\n\r\nHi\r\n"
    )
    second = (
        b"Received: from relay.example by mx.desk.example\r\n"
        b"Delivered-To: b@desk.example\r\n"
        + HEAD.replace(b"Subject: Hi", b"subject:  Hi")
        + b"message-id:   <m1@example.com>\r\n\r\nHi\r\n"
    )

    assert mail_dedup_key(first) == mail_dedup_key(second)
    assert mail_dedup_key(first).startswith("mid:m1@example.com|")


def test_a_subject_folded_anew_by_a_relay_keeps_the_key():
    subject = b"Subject: A long subject about the printer on the second floor\r\n"
    folded = b"Subject: A long subject about the printer\r\n on the second floor\r\n"
    tail = b"Message-ID: <m1@example.com>\r\n\r\nHi\r\n"

    assert mail_dedup_key(subject + tail) == mail_dedup_key(folded + tail)


def test_different_mails_under_one_reused_message_id_have_different_keys():
    first = HEAD + b"Message-ID: <1@scanner.local>\r\n\r\nScan 1\r\n"
    later = HEAD.replace(b"09:00:00", b"09:05:00") + b"Message-ID: <1@scanner.local>\r\n\r\n2\r\n"
    other = (
        HEAD.replace(b"Subject: Hi", b"Subject: Invoice") + b"Message-ID: <1@scanner.local>\r\n\r\n"
    )

    assert len({mail_dedup_key(first), mail_dedup_key(later), mail_dedup_key(other)}) == 3


def test_a_folded_message_id_is_joined():
    raw = b"Subject: x\nMessage-Id:\n <long.id@example.com>\nFrom: a@b\n\nbody\n"
    assert mail_dedup_key(raw).startswith("mid:long.id@example.com|")


def test_the_first_of_each_field_counts_and_the_body_is_not_read():
    raw = (
        b"Message-ID: <first@example.com>\r\nMessage-ID: <second@example.com>\r\n\r\n"
        b"Message-ID: <in-body@example.com>\r\nSubject: in the body\r\n"
    )
    body_changed = raw.replace(b"in the body", b"something else")

    assert mail_dedup_key(raw).startswith("mid:first@example.com|")
    assert mail_dedup_key(raw) == mail_dedup_key(body_changed)


def test_without_a_message_id_the_bytes_are_the_key_and_there_is_no_delivery_id():
    for raw in (
        b"From: a@b\r\n\r\nMessage-ID: <in-body@example.com>\r\n",
        b"From: a@b\r\nMessage-ID: <>\r\n\r\nhi\r\n",
        b"\r\nMessage-ID: <after-an-empty-header@example.com>\r\n",
    ):
        assert mail_dedup_key(raw) == content_key(raw)
        assert delivery_id(raw) is None


def test_the_delivery_id_is_the_key():
    raw = HEAD + b"Message-ID: <m1@example.com>\r\n\r\nHi\r\n"
    assert delivery_id(raw) == mail_dedup_key(raw)
