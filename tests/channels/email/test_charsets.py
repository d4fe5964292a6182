"""Text comes out readable whatever charset a mail claims, and a wrong claim never fails it."""

from __future__ import annotations

import base64

from tests.channels.email.sample_mail import mail, parsed

VIETNAMESE_1258 = b"M\xe1y in cu\xd2a t\xf4i bi\xf2 ho\xd2ng."
"""'Máy in của tôi bị hỏng.' as Windows writes it: most tones as combining marks."""


def test_a_windows_1258_body_is_decoded_and_composed():
    raw = mail(VIETNAMESE_1258, Content_Type="text/plain; charset=windows-1258")

    assert parsed(raw).full_text == "Máy in của tôi bị hỏng."


def test_an_iso_2022_jp_subject_is_decoded():
    encoded = base64.b64encode("プリンターが壊れました".encode("iso2022_jp")).decode()

    raw = mail(Subject=f"=?ISO-2022-JP?B?{encoded}?=")

    assert parsed(raw).subject == "プリンターが壊れました"


def test_an_encoded_word_in_windows_1258_is_decoded():
    raw = mail(Subject="=?windows-1258?Q?M=E1y_in_ho=D2ng?=")

    assert parsed(raw).subject == "Máy in hỏng"


def test_a_multibyte_character_split_over_two_encoded_words_is_joined():
    raw = mail(Subject="=?utf-8?q?Caf=C3?= =?utf-8?q?=A9_cr=C3=A8me?=")

    assert parsed(raw).subject == "Café crème"


def test_an_unknown_charset_is_detected():
    text = "Grüße aus Köln. Der Drucker im zweiten Stock druckt nur noch leere Seiten."
    raw = mail(text.encode("utf-8"), Content_Type="text/plain; charset=x-unknown")

    assert parsed(raw).full_text == text


def test_utf8_labelled_us_ascii_is_read_as_utf8():
    text = "Grüße, der Drucker läuft nicht."
    raw = mail(text.encode("utf-8"), Content_Type="text/plain; charset=us-ascii")

    assert parsed(raw).full_text == text


def test_invalid_bytes_in_utf8_become_replacement_characters():
    raw = mail("Café ".encode() + b"\xff\xfe" + " crème".encode())

    assert parsed(raw).full_text == "Café \ufffd\ufffd crème"


def test_a_raw_8bit_utf8_subject_is_decoded():
    raw = mail(Subject="x").replace(b"Subject: x", "Subject: Drucker läuft nicht".encode())

    assert parsed(raw).subject == "Drucker läuft nicht"


def test_an_unknown_charset_in_an_encoded_word_does_not_fail_the_mail():
    raw = mail(Subject="=?x-klingon?q?Printer_broken?=")

    assert parsed(raw).subject == "Printer broken"


def test_nul_characters_are_dropped_since_no_database_column_takes_them():
    raw = mail(b"before\x00after")

    assert parsed(raw).full_text == "beforeafter"
