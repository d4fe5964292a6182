"""The SMTP/LMTP listener mail servers deliver to.

A mail is answered ``250`` only once its inbound item is committed, so a crash can never lose an
acknowledged mail; a redelivered one (same Message-ID) is answered ``250`` again and stored once.
Our own faults answer ``451 4.3.0``, so the sending server keeps the mail and retries: never a
permanent 5xx, which is what aiosmtpd makes of an unhandled exception by default. The commit runs
in a worker thread; the event loop only talks SMTP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import weakref
from email.utils import parseaddr
from typing import Any

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from threadline.channels.email import CHANNEL
from threadline.channels.email.connection_limits import ConnectionLimits
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.email.recipients import InvalidRecipientSetting, RecipientPolicy
from threadline.channels.email.settings import EmailSettings, SmtpSettings
from threadline.core.intake import Accepted, Intake, RawItem

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
RELAY_DENIED = "550 5.7.1 Relay access denied"
RECIPIENT_OK = "250 2.1.5 OK"
TOO_BIG = "552 5.3.4 Message exceeds the maximum size of {limit} bytes"
IDENT = "threadline"
NULL_SENDER = "<>"

_log = structlog.get_logger(__name__)


class ListenerSetupError(Exception):
    """The settings cannot make a listener; the message is one line naming the key."""


class MailHandler:
    """aiosmtpd's hooks: who may receive at RCPT, the durable accept at DATA."""

    def __init__(
        self, intake: Intake, recipients: RecipientPolicy, lmtp: bool, limits: ConnectionLimits
    ) -> None:
        self._intake = intake
        self._recipients = recipients
        self._lmtp = lmtp
        self.limits = limits
        self._accepts: set[asyncio.Task[Accepted]] = set()
        self.last_failure: BaseException | None = None
        """The latest accept's error, kept until one succeeds (for /healthz)."""

    @property
    def busy(self) -> bool:
        return bool(self._accepts)

    async def handle_EHLO(
        self, _server: SMTP, session: Session, _envelope: Envelope, hostname: str, lines: list[str]
    ) -> list[str]:
        """Mail servers deliver here, nobody submits: AUTH is not offered (aiosmtpd's would
        refuse every login), so no sender is tempted to try it."""
        session.host_name = hostname
        return [line for line in lines if not line.startswith("250-AUTH")]

    async def handle_MAIL(
        self,
        _server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """A client over its rate of transactions is told to come back later."""
        refusal = self.limits.transaction(_peer_host(session.peer))
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self._recipients.accepts(address):
            return RELAY_DENIED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RECIPIENT_OK

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        """One inbound item for all recipients; LMTP answers it once per recipient."""
        raw = envelope.original_content or b""
        meta = {
            "source": "lmtp" if self._lmtp else "smtp",
            "mail_from": "" if envelope.mail_from == NULL_SENDER else envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": _peer_host(session.peer),
        }
        # A task of its own, shielded: a client hanging up mid-commit cancels the session, not
        # the commit, whose outcome _settled still reads; and close() can wait for it.
        accept = asyncio.create_task(asyncio.to_thread(self._accept, raw, meta))
        self._accepts.add(accept)
        accept.add_done_callback(self._settled)
        try:
            accepted = await asyncio.shield(accept)
        except Exception:
            status = TEMPORARY_FAILURE
        else:
            status = f"250 2.0.0 OK, inbound item {accepted.id}"
            _log.info(
                "mail accepted",
                inbound_item=accepted.id,
                duplicate=accepted.duplicate,
                size=len(raw),
                recipients=len(envelope.rcpt_tos),
                peer=meta["peer"],
            )
        if self._lmtp:
            return "\r\n".join([status] * len(envelope.rcpt_tos))
        return status

    async def handle_exception(self, error: Exception) -> str:
        """Whatever escaped a hook or aiosmtpd itself is our fault: the sender should retry."""
        if isinstance(error, TLSSetupException):
            # aiosmtpd hangs up without an answer; a failed handshake is the client's business.
            _log.info("TLS handshake failed", error=str(error.__cause__ or error))
        else:
            _log.error("SMTP session failed, answered 451", exc_info=error)
        return TEMPORARY_FAILURE

    async def drain(self, timeout: float) -> None:
        """Wait for the accepts in progress, including any that start meanwhile (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._accepts and loop.time() < deadline:
            await asyncio.wait(set(self._accepts), timeout=deadline - loop.time())

    def _accept(self, raw: bytes, meta: dict[str, Any]) -> Accepted:
        """In a worker thread: even the header parse of the dedup key stays off the loop."""
        return self._intake.accept(RawItem(CHANNEL, mail_dedup_key(raw), raw, meta))

    def _settled(self, accept: asyncio.Task[Accepted]) -> None:
        self._accepts.discard(accept)
        if accept.cancelled():
            return
        error = accept.exception()
        self.last_failure = error
        if error is not None:
            _log.error("mail not accepted, the sender is told to retry", exc_info=error)


class _SizeReplies:
    """aiosmtpd refuses oversized mail (at ``MAIL FROM ... SIZE=`` and during DATA) with a bare
    552; senders and their operators get the enhanced code of RFC 3463 and the limit."""

    data_size_limit: int | None

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str) and status.startswith("552 "):
            status = TOO_BIG.format(limit=self.data_size_limit)
        await super().push(status)


class _Limited:
    """Turns a connection over the limits away with ``421`` before the greeting, and counts
    the admitted ones out when they end."""

    event_handler: MailHandler
    _original_transport: asyncio.BaseTransport | None
    transport: asyncio.BaseTransport | None
    _client: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self._original_transport is None:
            client = _peer_host(transport.get_extra_info("peername"))
            refusal = self.event_handler.limits.admit(client)
            if refusal is not None:
                _log.warning("smtp connection refused", peer=client, reply=refusal)
                transport.write(f"{refusal}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._client = client
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if self._client is None:
            return
        self.event_handler.limits.release(self._client)
        self._client = None
        super().connection_lost(error)  # type: ignore[misc]


class _SmtpSession(_Limited, _SizeReplies, SMTP):
    pass


class _LmtpSession(_Limited, _SizeReplies, LMTP):
    pass


class MailListener:
    """The listening socket on ``smtp.listen``, from :meth:`start` to :meth:`close`."""

    def __init__(self, intake: Intake, email: EmailSettings, smtp: SmtpSettings) -> None:
        try:
            recipients = RecipientPolicy(
                email.domains, email.addresses, parseaddr(email.address)[1]
            )
        except InvalidRecipientSetting as error:
            raise ListenerSetupError(str(error)) from None
        lmtp = smtp.protocol == "lmtp"
        limits = ConnectionLimits(
            smtp.max_connections, smtp.max_connections_per_client, smtp.max_mails_per_client_minute
        )
        self.handler = MailHandler(intake, recipients, lmtp, limits)
        self._session_class = _LmtpSession if lmtp else _SmtpSession
        self._tls = tls_context(smtp.tls_certificate, smtp.tls_key)
        self.listen = smtp.listen
        self._max_size = email.max_message_size
        self._idle_timeout = smtp.idle_timeout
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    async def start(self) -> None:
        """Bind ``smtp.listen``; raises OSError (address in use, not permitted)."""
        # aiosmtpd logs every command at INFO; our "mail accepted" line is the record that counts.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        # aiosmtpd would look the name up (DNS) for every connection, on the event loop.
        hostname = await asyncio.to_thread(socket.getfqdn)

        def new_session() -> SMTP:
            session = self._session_class(
                self.handler,
                data_size_limit=self._max_size,
                enable_SMTPUTF8=True,
                hostname=hostname,
                ident=IDENT,
                tls_context=self._tls,
                timeout=self._idle_timeout,
                loop=loop,
            )
            self._sessions.add(session)
            return session

        self._server = await loop.create_server(new_session, self.listen.host, self.listen.port)

    async def close(self, timeout: float) -> None:
        """Refuse new connections at once, let mails being committed finish (within
        ``timeout``), then hang up on the rest: their senders try again later."""
        if self._server is None:
            return
        self._server.close()
        await self.handler.drain(timeout)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await self._server.wait_closed()
        self._server = None


def tls_context(certificate: str, key: str) -> ssl.SSLContext | None:
    """STARTTLS with the configured PEM files, or None when they are not set."""
    if not certificate:
        return None
    for setting, path in (("smtp.tls_certificate", certificate), ("smtp.tls_key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise ListenerSetupError(
                f"{setting}: cannot read {path}: {error.strerror or error}"
            ) from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key)
    except ssl.SSLError as error:
        raise ListenerSetupError(
            f"smtp.tls_key: {key} and smtp.tls_certificate {certificate} are not a PEM private "
            f"key and its certificate ({error.reason or error})"
        ) from None
    return context


def _peer_host(peer: Any) -> str:
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)
