"""Settings of the email channel: the desk's address, the listener, the smarthost and the IMAP
mailboxes."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from threadline.channels.email.recipients import address_of, domain_of
from threadline.core.config_types import Listen, ListenAddress, Processes, Secret
from threadline.core.settings import Section

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

    @field_validator("address")
    @classmethod
    def _desk_address(cls, value: str) -> str:
        """``support@example.com`` or ``Example Support <support@example.com>``."""
        if not value.isprintable():
            raise ValueError("must be one line of printable characters")
        address_of(parseaddr(value)[1])
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            domain_of(value)
        return values

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            address_of(value)
        return values


class SmtpSettings(Section):
    """The SMTP/LMTP listener mail servers deliver to."""

    enabled: bool = True
    listen: Listen = ListenAddress("127.0.0.1", 2525)
    protocol: Literal["smtp", "lmtp"] = "smtp"
    tls_certificate: str = ""
    """PEM file; with ``tls_key`` the listener offers STARTTLS."""
    tls_key: str = Field(default="", validate_default=True)
    idle_timeout: float = Field(default=60.0, gt=0)
    """Seconds a client may stay silent before it is hung up on (aiosmtpd's own default is
    300: idle connections are what a host that wants to deny the service holds)."""
    max_connections: int = Field(default=500, ge=1)
    """Connections at once; one more is told ``421`` before the greeting."""
    max_connections_per_client: int = Field(default=50, ge=1)
    """Connections at once from one client address, so that one host cannot take them all."""
    max_mails_per_client_minute: int = Field(default=1200, ge=0)
    """Mail transactions (``MAIL FROM``) per client address in any 60 s; one more is told
    ``451``, and its server tries again later. 0: no limit."""

    @field_validator("tls_key")
    @classmethod
    def _tls_files_come_in_pairs(cls, key: str, info: ValidationInfo) -> str:
        """Checked on the key even when only the certificate is set (hence validate_default),
        so the one message names a key the operator can fix."""
        certificate = info.data.get("tls_certificate", "")
        if bool(key) != bool(certificate):
            missing = "smtp.tls_key" if certificate else "smtp.tls_certificate"
            raise ValueError(
                f"STARTTLS needs both smtp.tls_certificate and smtp.tls_key; set {missing} "
                "too, or neither"
            )
        return key


class SmarthostSettings(Section):
    """Where outgoing mail is handed over."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Security = "none"
    tls_ca_file: str = ""
    """PEM file of the CAs to trust for the smarthost instead of the system's (a private CA)."""
    username: str = ""
    password: Annotated[str, Secret()] = ""
    timeout: float = Field(default=30.0, gt=0)
    compose_workers: Processes = "auto"
    """Processes that compose a batch's mails while the batch before it is sent
    (``channels/email/compose_workers.py``); batches under 32 mails are composed as sent."""


class MailboxSettings(Section):
    """One IMAP mailbox polled for new mail."""

    name: str = Field(min_length=1, max_length=64)
    """Names the mailbox in logs, /healthz, its IMAP position and its poll's scheduled job
    (``imap_poll:<name>``); routing matches it too."""
    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    security: Security = "ssl"
    tls_ca_file: str = ""
    """PEM file of the CAs to trust for this server instead of the system's (a private CA)."""
    username: str = Field(min_length=1)
    password: Annotated[str, Secret()] = ""
    oauth2_token_file: str = ""
    """XOAUTH2 instead of a password: the access token is read from this file..."""
    oauth2_token_command: str = ""
    """...or printed by this command (run without a shell), and read again when the server
    refuses it as expired."""
    folder: str = Field(default="INBOX", min_length=1)
    after: Literal["flag", "move", "delete"] = "flag"
    """What happens to a mail once it is stored: flagged ``\\Seen``, moved to ``move_to``, or
    deleted and expunged."""
    move_to: str = Field(default="", validate_default=True)
    batch_size: int = Field(default=100, ge=1, le=1000)
    poll_interval: int = Field(default=60, ge=1)
    """Seconds between polls when the server has no IDLE (a scheduled job's interval, so whole
    seconds), and between IDLE renewals."""

    @field_validator("move_to")
    @classmethod
    def _move_needs_a_folder(cls, move_to: str, info: ValidationInfo) -> str:
        after = info.data.get("after")
        if after is None:  # invalid itself, and reported as such
            return move_to
        if after == "move" and not move_to:
            raise ValueError('required with after = "move": the folder stored mails go to')
        if after != "move" and move_to:
            raise ValueError(f'only used with after = "move", but after = "{after}"')
        if move_to and move_to == info.data.get("folder"):
            # A mail moved into the polled folder gets a new UID and would come round forever.
            raise ValueError("must be another folder than the one polled")
        return move_to

    @model_validator(mode="after")
    def _one_credential(self) -> MailboxSettings:
        given = [
            key
            for key, value in (
                ("password", self.password),
                ("oauth2_token_file", self.oauth2_token_file),
                ("oauth2_token_command", self.oauth2_token_command),
            )
            if value
        ]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of password (or password_file), oauth2_token_file and "
                f"oauth2_token_command; found {' and '.join(given) or 'none'}"
            )
        return self


class ImapSettings(Section):
    mailboxes: tuple[MailboxSettings, ...] = ()

    @field_validator("mailboxes")
    @classmethod
    def _names_are_unique(
        cls, mailboxes: tuple[MailboxSettings, ...]
    ) -> tuple[MailboxSettings, ...]:
        """The name keys each mailbox's position and lock: two entries sharing one would skip
        each other's mail."""
        seen: set[str] = set()
        for mailbox in mailboxes:
            if mailbox.name in seen:
                raise ValueError(
                    f"mailbox name {mailbox.name!r} is used twice; give each [[imap.mailboxes]] "
                    "a name of its own"
                )
            seen.add(mailbox.name)
        return mailboxes
