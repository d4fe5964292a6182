"""A reproducible corpus of support mails as RFC 5322 bytes, for ``bench/email.py``.

The conversations follow ``bench/generator.py`` (new conversations from new and known senders,
replies by In-Reply-To/References, replies carrying only the ``[#N]`` tag, ticket numbers
predicted from the order of new conversations); what this adds is the mail around them, so the
parser has the work real mail gives it: MIME trees (plain text, multipart/alternative with a
quoted-printable HTML part, multipart/mixed with a small PDF, now and then HTML alone), Received
headers, RFC 2047 names, signatures, and replies quoting the answer they reply to under an
"On ... wrote:" line (``>`` lines in the text, Gmail's quote block in the HTML), which is what
makes reply extraction run. Mails are built as bytes by hand: ``EmailMessage`` would cost more
than parsing them again, and the corpus is made before any timing starts.
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from bench.generator import Mix

DESK = "support@desk.example"
DOMAIN = "bench.example"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SMALL_ATTACHMENT = 2048
SUBJECTS = ("Printer on fire", "Invoice 2026-03", "Cannot log in", "Refund", "Delivery late")
SENTENCES = (
    "I ordered the model 7 printer three weeks ago and it arrived yesterday.",
    "When I switch it on, the display stays dark and the fan makes a loud noise.",
    "I have already tried another power cable and another socket, with the same result.",
    "The invoice lists two items although I only ordered one, so the total is wrong.",
    "Could you please send me a corrected invoice and refund the difference?",
    "Since this morning I cannot log in to my account; the page says my password expired.",
    "The reset link in your email leads to an error page saying the token is invalid.",
    "The parcel was due last Friday, but the tracking page still shows it in the depot.",
    "I need it for an event on Thursday, so I would be grateful for a quick answer.",
    "My customer number is on the invoice attached to my first message.",
    "I am using the latest version of the app on an Android phone.",
    "A colleague of mine had the same problem last month and it was solved by a replacement.",
    "If a replacement is possible, please send it to the address on my account.",
    "Please let me know whether you need photos or the serial number of the device.",
)
ANSWERS = (
    "Thank you for your message. We are sorry for the trouble.",
    "Could you send us the serial number printed on the back of the device?",
    "We have checked your order and a replacement is on its way.",
    "Your refund has been approved and will reach your account within five working days.",
    "Please try clearing the cookies of your browser and request a new reset link.",
    "The carrier confirmed a delay in the depot; the parcel should arrive tomorrow.",
)
NAMES = (
    "Ada Lovelace",
    "Grace Hopper",
    "José Martínez",
    "Zoë Müller",
    "Alan Turing",
    "Chloé Dubois",
)
DKIM_SHARE = 0.6
"""Mail from the big providers carries a DKIM signature and the receiving server's verdict."""
MAILERS = ("Mozilla Thunderbird 115.4", "Apple Mail (2.3731)", "Microsoft Outlook 16.0", "")


@dataclass(frozen=True)
class Formats:
    """Shares of the MIME shapes; what is left after these three is HTML alone."""

    plain: float = 0.45
    alternative: float = 0.35
    attachment: float = 0.15


@dataclass
class Corpus:
    """The mails with what processing them must end with, so a benchmark can check it."""

    mails: list[bytes] = field(default_factory=list)
    conversations: int = 0
    """The tickets a fresh database ends with."""
    senders: int = 0
    """The clients it ends with."""


@dataclass
class _Conversation:
    ticket_number: int
    sender: str
    name: str
    subject: str
    ids: list[str]


def corpus(
    count: int, seed: int = 7, mix: Mix | None = None, formats: Formats | None = None
) -> Corpus:
    """``count`` mails in arrival order; the same seed gives the same bytes."""
    mix, formats = mix or Mix(), formats or Formats()
    rng = random.Random(seed)
    made = Corpus()
    names: list[str] = []
    conversations: list[_Conversation] = []
    for number in range(count):
        own_id = f"{number}.{seed}@{DOMAIN}"
        roll = rng.random()
        if not conversations or roll < mix.new_sender + mix.known_sender:
            if not names or roll < mix.new_sender:
                names.append(f"{rng.choice(NAMES)} {len(names)}")
            index = len(names) - 1 if roll < mix.new_sender else rng.randrange(len(names))
            conversation = _Conversation(
                ticket_number=len(conversations) + 1,
                sender=f"customer{index}@{DOMAIN}",
                name=names[index],
                subject=f"{rng.choice(SUBJECTS)} #{number}",
                ids=[own_id],
            )
            conversations.append(conversation)
            headers = _headers(rng, number, conversation, conversation.subject, own_id)
            made.mails.append(_mail(rng, formats, number, headers, conversation.name, None))
            continue
        conversation = rng.choice(conversations[-500:])
        if roll < mix.new_sender + mix.known_sender + mix.reply_by_reference:
            subject = f"Re: {conversation.subject}"
            threading = (
                f"In-Reply-To: <{conversation.ids[-1]}>\r\n"
                f"References: {' '.join(f'<{id_}>' for id_ in conversation.ids[-5:])}\r\n"
            )
        else:
            subject = f"Re: [#{conversation.ticket_number}] {conversation.subject}"
            threading = ""
        headers = _headers(rng, number, conversation, subject, own_id) + threading
        quoted = " ".join(rng.sample(ANSWERS, rng.randint(3, 5)))
        made.mails.append(_mail(rng, formats, number, headers, conversation.name, quoted))
        conversation.ids.append(own_id)
    made.conversations, made.senders = len(conversations), len(names)
    return made


def big_mail(attachment_bytes: int, seed: int = 7) -> bytes:
    """One new conversation carrying a file of ``attachment_bytes`` random bytes (base64 makes
    the mail about a third larger)."""
    rng = random.Random(seed)
    conversation = _Conversation(1, f"customer0@{DOMAIN}", "Ada Lovelace", "Log files", [])
    headers = _headers(rng, 0, conversation, "Log files", f"big.{seed}@{DOMAIN}")
    text = _text(rng, "Ada Lovelace", None)
    return _mixed(
        headers, 0, text, "logs.tar.gz", "application/gzip", rng.randbytes(attachment_bytes)
    )


def _headers(
    rng: random.Random, number: int, conversation: _Conversation, subject: str, own_id: str
) -> str:
    date = format_datetime(START + timedelta(seconds=3 * number))
    trace = f"{rng.getrandbits(48):012x}"
    mailer = rng.choice(MAILERS)
    return (
        f"Return-Path: <{conversation.sender}>\r\n"
        f"Received: from mx.desk.example (mx.desk.example [192.0.2.25])\r\n"
        f"\tby mail.desk.example with LMTP id {trace}\r\n\tfor <{DESK}>; {date}\r\n"
        f"Received: from mail.{DOMAIN} (mail.{DOMAIN} [198.51.100.{number % 250 + 1}])\r\n"
        f"\tby mx.desk.example (Postfix) with ESMTPS id {trace[:10].upper()}\r\n"
        f"\tfor <{DESK}>; {date}\r\n"
        f"From: {_display_name(conversation.name)} <{conversation.sender}>\r\n"
        f"To: Support <{DESK}>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{own_id}>\r\n"
        + (f"X-Mailer: {mailer}\r\n" if mailer else "")
        + (_signature(rng, date) if rng.random() < DKIM_SHARE else "")
        + "MIME-Version: 1.0\r\n"
    )


def _signature(rng: random.Random, date: str) -> str:
    digest = base64.b64encode(rng.randbytes(32)).decode()
    signature = base64.b64encode(rng.randbytes(256)).decode()
    folded = "\r\n\t ".join(signature[i : i + 70] for i in range(0, len(signature), 70))
    return (
        f"Authentication-Results: mx.desk.example; dkim=pass header.d={DOMAIN};\r\n"
        f"\tspf=pass smtp.mailfrom={DOMAIN}; dmarc=pass header.from={DOMAIN}\r\n"
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={DOMAIN}; s=2026;\r\n"
        f"\th=from:to:subject:date:message-id:mime-version; bh={digest};\r\n\t b={folded}\r\n"
    )


def _display_name(name: str) -> str:
    """RFC 2047 for names outside ASCII, as mail clients write them."""
    if name.isascii():
        return f'"{name}"'
    return f"=?utf-8?b?{base64.b64encode(name.encode()).decode()}?="


def _text(rng: random.Random, name: str, quoted: str | None) -> str:
    """The sender's words, a signature half the time, and the answered mail quoted below."""
    paragraphs = ["Hello,", " ".join(rng.sample(SENTENCES, rng.randint(4, 7)))]
    if rng.random() < 0.6:
        paragraphs.append(" ".join(rng.sample(SENTENCES, rng.randint(2, 4))))
    text = "\n\n".join(_wrapped(p) for p in paragraphs) + f"\n\nThanks,\n{name.rsplit(' ', 1)[0]}\n"
    if rng.random() < 0.5:
        text += f"\n-- \n{name.rsplit(' ', 1)[0]}\nACME Ltd, Example Street 1\n"
    if quoted is not None:
        lines = ["Hello,", "", *_wrapped(quoted).splitlines(), "", "Kind regards,", "Support"]
        text += "\nOn Mon, 2 Mar 2026 at 10:15, Support <support@desk.example> wrote:\n"
        text += "".join(f"> {line}\n" if line else ">\n" for line in lines)
    return text


def _html(text: str, quoted: str | None) -> str:
    """The text as Gmail sends it: paragraphs, and the quoted answer in its quote block."""
    own = text.split("\nOn Mon, 2 Mar", 1)[0]
    body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in own.split("\n\n"))
    if quoted is not None:
        body += (
            '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 2 Mar 2026 at '
            "10:15, Support &lt;support@desk.example&gt; wrote:<br></div>\n"
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
            f"<p>Hello,</p><p>{quoted}</p><p>Kind regards,<br>Support</p></blockquote></div>\n"
        )
    return (
        f'<html><head><meta charset="utf-8"></head><body><div dir="ltr">{body}</div></body></html>'
    )


def _mail(
    rng: random.Random,
    formats: Formats,
    number: int,
    headers: str,
    name: str,
    quoted: str | None,
) -> bytes:
    text = _text(rng, name, quoted)
    roll = rng.random()
    if roll < formats.plain:
        return _single(headers, "text/plain", _crlf(text).encode())
    if roll < formats.plain + formats.alternative:
        return _alternative(headers, number, text, _html(text, quoted))
    if roll < formats.plain + formats.alternative + formats.attachment:
        pdf = b"%PDF-1.4\n" + rng.randbytes(SMALL_ATTACHMENT - 9)
        return _mixed(headers, number, text, f"invoice-{number}.pdf", "application/pdf", pdf)
    return _single(headers, "text/html", _quoted_printable(_html(text, quoted)), qp=True)


def _single(headers: str, content_type: str, body: bytes, qp: bool = False) -> bytes:
    encoding = "quoted-printable" if qp else "8bit"
    return (
        headers + f'Content-Type: {content_type}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode() + body


def _alternative(headers: str, number: int, text: str, html: str) -> bytes:
    boundary = f"=_alt_{number}"
    return (
        (headers + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n').encode()
        + _part(boundary, 'text/plain; charset="utf-8"', "8bit", _crlf(text).encode())
        + _part(boundary, 'text/html; charset="utf-8"', "quoted-printable", _quoted_printable(html))
        + f"--{boundary}--\r\n".encode()
    )


def _mixed(
    headers: str, number: int, text: str, filename: str, content_type: str, content: bytes
) -> bytes:
    boundary = f"=_mixed_{number}"
    encoded = base64.encodebytes(content).replace(b"\n", b"\r\n")
    return (
        (headers + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n').encode()
        + _part(boundary, 'text/plain; charset="utf-8"', "8bit", _crlf(text).encode())
        + _part(
            boundary,
            f'{content_type}; name="{filename}"',
            "base64",
            encoded,
            f'Content-Disposition: attachment; filename="{filename}"\r\n',
        )
        + f"--{boundary}--\r\n".encode()
    )


def _part(boundary: str, content_type: str, encoding: str, body: bytes, extra: str = "") -> bytes:
    head = f"--{boundary}\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Transfer-Encoding: {encoding}\r\n{extra}\r\n"
    return head.encode() + body + b"\r\n"


def _quoted_printable(text: str) -> bytes:
    return binascii.b2a_qp(text.encode()).replace(b"\n", b"\r\n")


def _wrapped(paragraph: str, width: int = 72) -> str:
    lines: list[str] = []
    line = ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")
