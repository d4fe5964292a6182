"""Settings of the email channel: the desk's address, the listener, the smarthost and the IMAP
mailboxes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from core.config_types import Listen, ListenAddress, Secret
from core.settings import Section

Security = Literal["none", "starttls", "ssl"]

MEBIBYTE = 1024 * 1024


class EmailSettings(Section):
    address: str = "support@localhost"
    """From of every mail we send; replies come back to ``<local>+<token>@<domain>``."""
    domains: tuple[str, ...] = ("localhost",)
    """Recipient domains the listener accepts mail for (no open relay)."""
    addresses: tuple[str, ...] = ()
    """Further single recipient addresses accepted, outside ``domains``."""
    max_message_size: int = Field(default=50 * MEBIBYTE, ge=MEBIBYTE)
    """Bytes; larger mail is refused by the listener (552) and skipped by the IMAP poller."""
    hard_bounce_suppression_days: float = Field(default=30.0, ge=0)
    """A 5.x.x bounce stops all mail to the address for this long; 0 turns suppression off."""
    unverified_agent: Literal["client", "park"] = "client"
    """Mail from an agent's address without a valid reply token: store it as a client message
    on a ticket of its own (``client``), or park it for an operator (``park``)."""


class SmtpSettings(Section):
    """The SMTP/LMTP listener mail servers deliver to."""

    enabled: bool = True
    listen: Listen = ListenAddress("127.0.0.1", 2525)
    protocol: Literal["smtp", "lmtp"] = "smtp"
    tls_certificate: str = ""
    """PEM file; with ``tls_key`` the listener offers STARTTLS."""
    tls_key: str = ""


class SmarthostSettings(Section):
    """Where outgoing mail is handed over."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Security = "none"
    username: str = ""
    password: Annotated[str, Secret()] = ""
    timeout: float = Field(default=30.0, gt=0)


class MailboxSettings(Section):
    """One IMAP mailbox polled for new mail."""

    name: str
    """Names the mailbox in logs, /healthz and ``mailbox_state``; routing matches it too."""
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    security: Security = "ssl"
    username: str
    password: Annotated[str, Secret()] = ""
    oauth2_token_file: str = ""
    """XOAUTH2 instead of a password: the access token is read from this file..."""
    oauth2_token_command: str = ""
    """...or printed by this command, and read again when the server refuses it as expired."""
    folder: str = "INBOX"
    after: Literal["flag", "move", "delete"] = "flag"
    """What happens to a mail once it is stored: flagged ``\\Seen``, moved to ``move_to``, or
    deleted and expunged."""
    move_to: str = ""
    batch_size: int = Field(default=100, ge=1, le=1000)
    poll_interval: float = Field(default=60.0, gt=0)
    """Seconds between polls when the server has no IDLE, and between IDLE renewals."""


class ImapSettings(Section):
    mailboxes: tuple[MailboxSettings, ...] = ()
