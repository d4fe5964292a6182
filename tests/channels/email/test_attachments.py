"""Every file a mail carries is kept, named as the sender named it; none of it leaks into the
text."""

from __future__ import annotations

import base64
import binascii

from tests.channels.email.sample_mail import mail, parsed

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def multipart(*parts: str, subtype: str = "mixed") -> bytes:
    body = "".join(f"--b\r\n{part}\r\n" for part in parts) + "--b--\r\n"
    return mail(body, Content_Type=f'multipart/{subtype}; boundary="b"')


TEXT_PART = "Content-Type: text/plain; charset=utf-8\r\n\r\nSee the attached file."


def uuencoded(name: str, content: bytes) -> str:
    lines = [binascii.b2a_uu(content[i : i + 45]).decode() for i in range(0, len(content), 45)]
    return f"begin 644 {name}\n{''.join(lines)}`\nend\n"


def test_an_rfc2231_filename_is_decoded():
    raw = multipart(
        TEXT_PART,
        "Content-Type: application/pdf\r\n"
        "Content-Disposition: attachment;\r\n"
        " filename*0*=utf-8''%E2%82%AC%20rates%20;\r\n"
        " filename*1*=M%C3%A4rz.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4").decode(),
    )

    (attachment,) = parsed(raw).attachments

    assert (attachment.filename, attachment.content) == ("€ rates März.pdf", b"%PDF-1.4")


def test_an_rfc2047_filename_is_decoded_too():
    raw = multipart(
        TEXT_PART,
        'Content-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="\r\n'
        "Content-Disposition: attachment\r\n\r\n%PDF",
    )

    assert parsed(raw).attachments[0].filename == "Rechnung März.pdf"


def test_a_windows_path_in_a_filename_is_cut_to_the_name():
    raw = multipart(
        TEXT_PART,
        'Content-Type: text/plain; name="C:\\\\Users\\\\ada\\\\log.txt"\r\n'
        "Content-Disposition: attachment\r\n\r\nerror 42",
    )

    attachment = parsed(raw).attachments[0]

    assert (attachment.filename, attachment.content) == ("log.txt", b"error 42")


def test_an_x_uuencode_part_becomes_its_file():
    raw = multipart(
        TEXT_PART,
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: x-uuencode\r\n\r\n" + uuencoded("photo.png", PNG),
    )

    inbound = parsed(raw)

    assert [(a.filename, a.content) for a in inbound.attachments] == [("photo.png", PNG)]
    assert inbound.full_text == "See the attached file."


def test_an_inline_uuencoded_block_becomes_a_file_and_leaves_the_text():
    raw = mail("Here it is:\n\n" + uuencoded("photo.png", PNG) + "\nThanks, Ada\n")

    inbound = parsed(raw)

    assert [(a.filename, a.content) for a in inbound.attachments] == [("photo.png", PNG)]
    assert inbound.full_text == "Here it is:\n\n\nThanks, Ada"


def test_a_forwarded_mail_is_kept_whole_and_its_text_stays_out_of_the_reply():
    forwarded = (
        "From: Bob <bob@example.org>\r\nSubject: The original\r\nMessage-ID: <orig@example.org>\r\n"
        "\r\nSecret text of the forwarded mail.\r\n"
    )
    raw = multipart(
        "Content-Type: text/plain\r\n\r\nPlease see the mail below.",
        f"Content-Type: message/rfc822\r\n\r\n{forwarded}",
    )

    inbound = parsed(raw)

    (attachment,) = inbound.attachments
    assert (attachment.filename, attachment.content_type) == ("message.eml", "message/rfc822")
    assert b"Secret text of the forwarded mail." in attachment.content
    assert b"Message-ID: <orig@example.org>" in attachment.content
    assert "Secret" not in inbound.full_text
    assert inbound.reply_text == "Please see the mail below."
    assert inbound.hints.own_id == "a1@mail.example.com"


def test_an_inline_image_keeps_its_content_id():
    raw = multipart(
        'Content-Type: text/html; charset=utf-8\r\n\r\n<p>Look: <img src="cid:shot@ada"></p>',
        "Content-Type: image/png\r\nContent-ID: <shot@ada>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(PNG).decode(),
        subtype="related",
    )

    inbound = parsed(raw)

    (image,) = inbound.attachments
    assert (image.content_id, image.content_type, image.content) == ("shot@ada", "image/png", PNG)
    assert image.filename == "attachment-1.png"
    assert inbound.full_text == "Look:"


def test_tnef_winmail_dat_is_kept_as_it_came():
    tnef = b"\x78\x9f\x3e\x22" + bytes(32)
    raw = multipart(
        TEXT_PART,
        "Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(tnef).decode(),
    )

    (attachment,) = parsed(raw).attachments

    assert (attachment.filename, attachment.content_type, attachment.content) == (
        "winmail.dat",
        "application/ms-tnef",
        tnef,
    )


def test_broken_base64_does_not_fail_the_mail():
    raw = multipart(
        TEXT_PART,
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBER i0x!!!LjQ",
    )

    inbound = parsed(raw)

    assert inbound.attachments[0].filename == "a.pdf"
    assert inbound.full_text == "See the attached file."


def test_an_html_only_mail_is_read_as_text_and_keeps_its_html():
    html = "<html><head><style>p {color: red}</style></head><body><p>Hello</p><p>Ada</p></body>"

    inbound = parsed(mail(html, Content_Type="text/html; charset=utf-8"))

    assert (inbound.full_text, inbound.html) == ("Hello\n\nAda", html)


def test_the_plain_alternative_is_the_text_and_the_html_one_is_kept():
    raw = multipart(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello in plain text",
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello in <b>HTML</b></p>",
        subtype="alternative",
    )

    inbound = parsed(raw)

    assert (inbound.full_text, inbound.html) == (
        "Hello in plain text",
        "<p>Hello in <b>HTML</b></p>",
    )
    assert inbound.attachments == ()


def attachment_part(head: bytes) -> bytes:
    """A multipart mail whose second part has ``head`` as its header block."""
    return (
        mail(Content_Type='multipart/mixed; boundary="b"', body="")
        + b"--b\r\n"
        + TEXT_PART.encode()
        + b"\r\n--b\r\n"
        + head
        + b"\r\n\r\ncontent\r\n--b--\r\n"
    )


def test_a_filename_in_raw_utf8_bytes_is_read_as_written():
    raw = attachment_part(
        b"Content-Type: image/jpeg\r\n"
        b'Content-Disposition: attachment; filename="Hofj\xc3\xa4geralle Wasserschaden.jpg"'
    )

    assert parsed(raw).attachments[0].filename == "Hofjägeralle Wasserschaden.jpg"


def test_a_name_in_raw_utf8_bytes_keeps_its_comma_and_cjk_characters():
    name = "绩效管理,究竟谁错了.xls"
    raw = attachment_part(
        b'Content-Type: application/vnd.ms-excel; name="' + name.encode() + b'"\r\n'
        b"Content-Disposition: attachment"
    )

    assert parsed(raw).attachments[0].filename == name


def test_a_filename_in_legacy_8bit_bytes_is_read_with_the_parts_charset():
    raw = attachment_part(
        b'Content-Type: application/vnd.ms-excel; charset="gbk"; name="'
        + "绩效管理.xls".encode("gbk")
        + b'"\r\nContent-Disposition: attachment'
    )

    assert parsed(raw).attachments[0].filename == "绩效管理.xls"


def test_a_latin1_filename_without_a_charset_is_not_replacement_characters():
    raw = attachment_part(
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="Stra\xdfensch\xe4den Gutachten.pdf"'
    )

    filename = parsed(raw).attachments[0].filename

    assert "\ufffd" not in filename
    assert filename.endswith(" Gutachten.pdf")
