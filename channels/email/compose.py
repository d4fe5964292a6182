"""The mail the desk sends, built from a small description of it: no database, no network.

Every header value that comes from stored text (a ticket title, a name, an address, an id another
mail server chose) is made one printable line, or refused, before it reaches a header: what a
client wrote must never add a header (a ``Bcc:`` of its own) to mail we send.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.base64mime import body_encode
from email.header import Header
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, parseaddr

from threadline.channels.email.marker import LOOP_HEADER, REPLY_MARKER
from threadline.channels.email.thread_ids import NOTICE_ID_PREFIX, OUR_ID_PREFIX
from threadline.core.external_ids import InvalidExternalId, normalize
from threadline.core.notification_types import headline
from threadline.core.senders import PermanentSendError
from threadline.core.titles import NO_SUBJECT
from threadline.core.tokens import ReplyToken, TokenSigner

MAX_REFERENCES = 10
MAX_7BIT_LINE = 998
"""RFC 5322's limit on a line; a longer one goes encoded."""
"""Ids in References: enough for any mail client to thread, bounded for long tickets."""
DIGEST_CHARS = 16
NOTICE_FOOTER = "This notice concerns no single ticket; answer a ticket from its own notification."

_PREFIX = re.compile(r"^(?:(?:re|fwd?|aw|wg|sv|vs|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")
"""Printable ASCII without spaces or angle brackets: what fits between ``<`` and ``>``."""
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_LINE_BREAKS = ("Cc", "Zl", "Zp")
"""Control characters and Unicode line and paragraph separators."""


class _Formatted(EmailPolicy):
    """The policy of the mail we compose. Its headers are written formatted (:func:`_set`) and
    read back as they are: the stock policy parses a header every time it is read, and the
    generator reads each part's Content-Type several times."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return value
        return "".join(value.splitlines())


SMTP_POLICY = _Formatted(linesep="\r\n")


class InvalidAddress(PermanentSendError):
    """An address no retry can make valid (a stored address with a line break in it, say)."""


@dataclass(frozen=True)
class DeskAddress:
    """Our own address, from ``email.address`` (``support@example.com`` or, with a display
    name, ``Example Support <support@example.com>``)."""

    local: str
    domain: str
    display_name: str = ""

    @classmethod
    def parse(cls, text: str) -> DeskAddress:
        name, addr_spec = parseaddr(text)
        local, at, domain = addr_spec.rpartition("@")
        if not text.isprintable() or not addr_spec.isascii() or not at or not local or not domain:
            raise ValueError(
                f"email.address {text!r} is not an ASCII address like support@example.com"
            )
        return cls(local, domain.lower(), name)

    @property
    def addr_spec(self) -> str:
        return f"{self.local}@{self.domain}"

    def with_token(self, token: str) -> str:
        """Where a reply to mail carrying ``token`` comes back."""
        return f"{self.local}+{token}@{self.domain}"


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Mail:
    kind: str
    """The outbox row's: ``reply``, ``notification`` or ``acknowledgement``."""
    ticket_id: int | None
    """None: a notice that concerns no single ticket (a digest), with nothing to thread into
    and nothing a reply could act on."""
    title: str
    """The ticket's; a notice's subject."""
    body: str
    recipient: str
    """Normalized by :func:`recipient_address`."""
    idempotency_key: str
    """The outbox row's: the Message-ID is made from it, so a resend is the same mail."""
    recipient_name: str = ""
    agent_id: int | None = None
    """Set on an agent's notification: the Reply-To token then speaks as this agent."""
    event: str = ""
    """A notification's type (``core/notification_types.py``)."""
    client_name: str = ""
    in_reply_to: str | None = None
    """The client's last message on the ticket, without angle brackets."""
    references: tuple[str, ...] = ()
    """Earlier ids of the ticket, oldest first."""
    attachments: tuple[MailAttachment, ...] = ()


def recipient_address(text: str) -> str:
    """The normalized address, or :class:`InvalidAddress`: a stored address with a line break
    is corrupt (or an injection attempt), so it is refused rather than repaired."""
    if not text.isprintable():
        raise InvalidAddress(f"recipient {text!r} contains control characters")
    try:
        address = normalize("email", text, default_region="")
    except InvalidExternalId as error:
        raise InvalidAddress(f"invalid recipient: {error}") from None
    if not address.isascii():
        # Its domain is ASCII already (IDNA); such a local part needs SMTPUTF8 all the way.
        raise InvalidAddress(f"recipient {address} has a non-ASCII local part (SMTPUTF8)")
    return address


def message_id(mail: Mail, desk: DeskAddress, signer: TokenSigner) -> str:
    """``tl.<token>.<digest>@<domain>``, without angle brackets, as message refs store it;
    ``tl.notice.<digest>@<domain>`` for a notice, whose ``notice`` no token can be.

    The token names the ticket only, never an agent: mail clients copy Message-IDs into the
    References of every later mail, so anyone further down the thread sees them. The digest of
    the idempotency key keeps the id unique per outbox row and the same on every resend.
    """
    digest = hashlib.sha256(mail.idempotency_key.encode()).digest()
    short = base64.b32encode(digest).decode().lower()[:DIGEST_CHARS]
    if mail.ticket_id is None:
        return f"{NOTICE_ID_PREFIX}{short}@{desk.domain}"
    return f"{OUR_ID_PREFIX}{signer.sign(ReplyToken(mail.ticket_id))}.{short}@{desk.domain}"


def compose(mail: Mail, desk: DeskAddress, signer: TokenSigner, date: datetime) -> EmailMessage:
    """``date`` is timezone-aware.

    Headers go in already formatted (``set_raw``): parsing each one into the email package's
    header objects, only to write it back out, was most of the cost of a mail. So nothing but
    :func:`_set` writes them, and it refuses a line break in any value.
    """
    message = EmailMessage(policy=SMTP_POLICY)
    _set(message, "From", _mailbox(desk.display_name, desk.addr_spec))
    _set(message, "To", _mailbox(_name_of(mail), mail.recipient))
    if mail.ticket_id is not None:
        # A notice has no Reply-To: no token may bind its answer to a ticket it is not about,
        # and the desk's bare address is its From already.
        token = signer.sign(ReplyToken(mail.ticket_id, mail.agent_id))
        _set(message, "Reply-To", _mailbox(desk.display_name, desk.with_token(token)))
    _set(message, "Subject", _words(subject(mail), "Subject"))
    _set(message, "Date", format_datetime(date))
    _set(message, "Message-ID", f"<{message_id(mail, desk, signer)}>")
    for name, value in _thread(mail):
        _set(message, name, value)
    if mail.kind != "reply":
        # RFC 3834: automatic mail says so, and asks Exchange's auto-replies to keep quiet.
        automatic = "auto-replied" if mail.kind == "acknowledgement" else "auto-generated"
        _set(message, "Auto-Submitted", automatic)
        _set(message, "X-Auto-Response-Suppress", "All")
    _set(message, LOOP_HEADER, desk.addr_spec)
    _set(message, "MIME-Version", "1.0")
    text = _text(mail)
    # A boundary random enough never to occur in the parts: the generator need not search them.
    boundary = f"=_{secrets.token_hex(16)}"
    _set(message, "Content-Type", f'multipart/alternative;\n boundary="{boundary}"')
    message.attach(_text_part(text, "plain"))
    message.attach(_text_part(_html(text), "html"))
    for attachment in mail.attachments:
        _attach(message, attachment)
    return message


def _set(message: EmailMessage, name: str, value: str) -> None:
    """A folded value's line breaks are each followed by a space; any other is refused, as the
    email package refuses one in a header it parses."""
    if not value.replace("\n ", " ").isprintable():
        raise ValueError(f"{name} would carry a line break or control character")
    message.set_raw(name, value)


def _mailbox(name: str, addr_spec: str) -> str:
    """``Name <addr>``, the name quoted or made RFC 2047 words as it needs."""
    name = one_line(name)
    return formataddr((name, addr_spec), charset="utf-8") if name else addr_spec


def _words(text: str, name: str) -> str:
    """Unstructured text as it stands when it is ASCII, else RFC 2047 words, folded."""
    if text.isascii():
        return text
    return Header(text, "utf-8", header_name=name).encode(linesep="\n")


def _text_part(text: str, subtype: str) -> Message:
    """7bit ASCII where the text is; UTF-8 in base64 where it is not."""
    part = Message()
    if text.isascii() and max(map(len, text.splitlines()), default=0) <= MAX_7BIT_LINE:
        part["Content-Type"] = f'text/{subtype}; charset="us-ascii"'
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(text)
    else:
        part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(body_encode(text.encode()))
    return part


def subject(mail: Mail) -> str:
    """One ticket tag, and no ``Re:`` piled on ``Re:`` however often the title was answered;
    a notice has neither."""
    if mail.ticket_id is None:
        return f"{headline(mail.event)}: {one_line(mail.title) or NO_SUBJECT}"
    tag = f"[#{mail.ticket_id}]"
    topic = _topic(mail.title, tag)
    if mail.kind != "notification":
        return f"Re: {tag} {topic}"
    if mail.event == "client_replied":
        return f"{tag} {one_line(mail.client_name) or 'The client'} replied: {topic}"
    return f"{tag} {headline(mail.event)}: {topic}"


def one_line(text: str) -> str:
    """Line breaks and other control characters become spaces; runs of spaces become one."""
    if text.isprintable():  # none of them, as is most text: no need to look at each character
        return " ".join(text.split())
    spaced = "".join(" " if unicodedata.category(char) in _LINE_BREAKS else char for char in text)
    return " ".join(spaced.split())


def _topic(title: str, tag: str) -> str:
    text = one_line(title).replace(tag, " ")
    stripped = None
    while stripped != text:
        stripped = text
        text = _PREFIX.sub("", text.strip()).strip()
    return " ".join(text.split()) or NO_SUBJECT


def _name_of(mail: Mail) -> str:
    """A client created from their address alone has it as name: no need to say it twice."""
    name = one_line(mail.recipient_name)
    return "" if name.lower() == mail.recipient.lower() else name


def _thread(mail: Mail) -> list[tuple[str, str]]:
    """In-Reply-To and References. Ids another server chose are stored text too: one that
    does not look like an id is left out rather than written into a header."""
    parent = mail.in_reply_to
    if parent is not None and not _MESSAGE_ID.fullmatch(parent):
        parent = None
    chain = [ref for ref in mail.references if ref != parent and _MESSAGE_ID.fullmatch(ref)]
    chain = [*chain, *([parent] if parent else [])][-MAX_REFERENCES:]
    headers = []
    if parent:
        headers.append(("In-Reply-To", f"<{parent}>"))
    if chain:
        headers.append(("References", "\n ".join(f"<{ref}>" for ref in chain)))
    return headers


def _text(mail: Mail) -> str:
    body = "\n".join(mail.body.splitlines()).strip()
    if mail.kind == "reply":
        return f"{REPLY_MARKER}\n\n{body}\n"
    if mail.kind == "acknowledgement":
        return f"{REPLY_MARKER}\n\n{body}\n"
    if mail.ticket_id is None:
        return f"{body}\n\n-- \n{NOTICE_FOOTER}\n"
    title = _topic(mail.title, f"[#{mail.ticket_id}]")
    client = one_line(mail.client_name) or "The client"
    heading = {
        "ticket_created": f"New ticket #{mail.ticket_id} from {client}",
        "client_replied": f"{client} replied on ticket #{mail.ticket_id}",
        "delivery_failed": f"A reply on ticket #{mail.ticket_id} did not reach {client}",
    }.get(mail.event, f"{headline(mail.event)}, ticket #{mail.ticket_id}")
    return (
        f"{REPLY_MARKER}\n\n{heading}: {title}\n\n{body}\n\n-- \n"
        f"Replying to this mail answers {client}: your reply reaches them on their own "
        "channel.\n"
        "Commands on the first lines of your reply act on the ticket and are not sent:\n"
        "  #note               the whole reply becomes an internal note\n"
        "  #close              close the ticket\n"
        "  #status STATUS      e.g. #status waiting_for_user\n"
        "  #priority PRIORITY  low, medium, high or urgent\n"
        "  #assign EMAIL       assign an agent\n"
        "  #tag NAME           tag the ticket\n"
        "  #escalate [REASON]  hand the ticket to the second line\n"
    )


def _html(text: str) -> str:
    """Escaped line by line; doubled spaces kept, so the command list stays aligned."""
    lines = "<br>\n".join(
        html.escape(line).replace("  ", " \N{NO-BREAK SPACE}") for line in text.splitlines()
    )
    return f"<!DOCTYPE html>\n<html><body>\n{lines}\n</body></html>\n"


def _attach(message: EmailMessage, attachment: MailAttachment) -> None:
    """A stored type that is not a plain ``type/subtype`` (or that would need a MIME tree of
    its own) goes out as bytes."""
    content_type = attachment.content_type.strip().lower()
    if not _CONTENT_TYPE.fullmatch(content_type) or content_type.startswith(
        ("multipart/", "message/")
    ):
        content_type = "application/octet-stream"
    maintype, subtype = content_type.split("/")
    message.add_attachment(
        attachment.content,
        maintype=maintype,
        subtype=subtype,
        filename=one_line(attachment.filename) or "attachment",
    )
