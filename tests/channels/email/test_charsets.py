"""Text comes out readable whatever charset a mail claims, and a wrong claim never fails it."""

from __future__ import annotations

import base64

import pytest

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


def test_an_encoded_word_with_spaces_inside_is_decoded():
    raw = mail(Subject="=?UTF-8?Q? Personal=C3=A4nderung?= ab 1. April")

    assert parsed(raw).subject == "Personaländerung ab 1. April"


def test_an_encoded_word_continued_on_a_folded_line_is_joined():
    raw = mail(Subject="=?UTF-8?Q?Personal=C3?=\r\n =?UTF-8?Q?=A4nderung?=")

    assert parsed(raw).subject == "Personaländerung"


@pytest.mark.parametrize(
    ("label", "text", "codec"),
    [
        ("unicode-1-1-utf-7", "Grüße", "utf_7"),
        ("utf7", "Grüße", "utf_7"),
        ("ks_c_5601-1987", "프린터가 고장났습니다", "cp949"),
        ("iso-8859-8-i", "המדפסת שלי שבורה", "iso8859_8"),
        ("gb2312", "打印机坏了，请帮忙。𠀀", "gb18030"),
        ("windows-874", "เครื่องพิมพ์เสีย", "cp874"),
        ("x-sjis", "プリンターが壊れました", "cp932"),
        ("windows-31j", "①番のプリンター", "cp932"),
    ],
)
def test_charset_labels_mail_uses_are_understood(label: str, text: str, codec: str):
    data = text.encode(codec)
    body = mail(data, Content_Type=f"text/plain; charset={label}")
    encoded = base64.b64encode(data).decode()
    subject = mail(Subject=f"=?{label}?B?{encoded}?=")

    assert parsed(body).full_text == text
    assert parsed(subject).subject == text


def test_iso_2022_jp_with_nec_and_ibm_characters_is_read_as_code_page_50221():
    """What Japanese Outlook sends as iso-2022-jp: ① and Ⅲ (NEC row 13), 髙 (an IBM
    extension), half-width katakana, none of which Python's iso2022_jp decodes."""
    jis = b"\x1b$B-!-7\x1b(B No.1 \x1b$B|b\x1b(B \x1b(I6E\x1b(B"
    raw = mail(jis, Content_Type="text/plain; charset=iso-2022-jp")

    assert parsed(raw).full_text == "①Ⅲ No.1 髙 ｶﾅ"


def test_an_unknown_label_falls_back_to_detection():
    text = "Grüße aus Köln. Der Drucker im zweiten Stock druckt nur noch leere Seiten."
    raw = mail(text.encode("utf-8"), Content_Type="text/plain; charset=x-unknown")

    assert parsed(raw).full_text == text


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("gbk", "您好，我的打印机坏了，请帮忙。请问什么时候可以来修？"),
        ("big5", "您好，我的印表機壞了，請幫忙。請問什麼時候可以來修？"),
        ("shift_jis", "こんにちは、プリンターが壊れました。いつ直りますか？"),
        ("euc_kr", "안녕하세요, 프린터가 고장났습니다. 언제 고칠 수 있나요?"),
    ],
)
def test_undeclared_east_asian_text_is_read_in_its_own_encoding(codec: str, text: str):
    raw = mail(f"Hello,\r\n\r\n{text}\r\n".encode(codec), Content_Type="text/plain")

    assert parsed(raw).full_text == f"Hello,\n\n{text}"


def test_an_undeclared_chinese_file_name_is_read_as_chinese():
    head = (
        b'Content-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename="'
        + "绩效管理.xls".encode("gbk")
        + b'"'
    )
    raw = (
        mail(Content_Type='multipart/mixed; boundary="b"', body="")
        + b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        + head
        + b"\r\n\r\ncontent\r\n--b--\r\n"
    )

    assert parsed(raw).attachments[0].filename == "绩效管理.xls"


def test_undeclared_latin_text_with_accents_side_by_side_stays_latin():
    text = "Grüße aus Düsseldorf. Die Straßenbahn fährt nicht, das Gerät ist kaputt."
    raw = mail(text.encode("latin-1"), Content_Type="text/plain")

    assert parsed(raw).full_text == text
