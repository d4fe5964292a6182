"""Outbox rows of the email channel, handed to the smarthost with smtplib.

The dispatcher hands over a batch's rows (:meth:`EmailSender.read_ahead`): what their mails are
made of is read in one short session, closed before the network is touched, and a large
batch's mails are composed in worker processes meanwhile (``compose_workers.py``). It then calls
:meth:`EmailSender.send` for each row from several threads at once, and the mails go out over
connections kept open between them (``smtp_connections.py``).

Which failures are worth retrying (:class:`TransientSendError`) and which kill the row at once
(:class:`PermanentSendError`) follows who can fix them:

- The smarthost cannot be reached, times out, drops the connection, or answers ``4xx``: it says
  so itself, or it is down, and a later try may well succeed.
- It answers ``5xx`` to the recipient (``550 5.1.1`` no such user), the sender or the data (the
  mail's size or content): its decision about this very mail, which a resend will only repeat.
  An operator sees the row in ``threadline outbox list --parked`` and can send it again.
- It refuses our login (``535``), or lacks STARTTLS or AUTH that the settings ask for: the
  operator must fix the configuration, and every row would fail alike meanwhile. Killing them
  all would need a mass retry afterwards; waiting keeps them until the fix (or until their
  attempts run out, which still parks them).
- A recipient address that is not one, or one suppressed after a hard bounce: nothing to try.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email.compose import DeskAddress, Mail, recipient_address
from threadline.channels.email.compose_workers import ComposeAhead, Composing, composed
from threadline.channels.email.outgoing import Ready, outgoing_mails
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smtp_connections import SmtpConnections, close
from threadline.core.config_types import process_count
from threadline.core.senders import OutboxView, PermanentSendError, SendResult, TransientSendError
from threadline.core.tokens import TokenSigner

Clock = Callable[[], datetime]
"""Timezone-aware."""
Prepared = dict[int, Mail | PermanentSendError | tuple[Mail, Composing]]
"""A batch's :data:`Ready`, with what a worker composes of it."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmailSender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: TokenSigner,
        email: EmailSettings,
        smarthost: SmarthostSettings,
        clock: Clock = _utc_now,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._desk = DeskAddress.parse(email.address)
        self._smarthost = smarthost
        self._clock = clock
        self._connections = SmtpConnections(self._connect)
        self._ahead = ComposeAhead(self._desk, signer, process_count(smarthost.compose_workers))
        self._ready: Prepared = {}
        self._sending: Prepared = {}
        self._lock = threading.Lock()

    def read_ahead(self, items: Sequence[OutboxView]) -> None:
        ready: Prepared = dict(self._read(items))
        mails = {row: mail for row, mail in ready.items() if isinstance(mail, Mail)}
        for row, composing in self._ahead.start(mails, self._clock()).items():
            ready[row] = (mails[row], composing)
        with self._lock:
            # The batch being sent keeps its mails; what is left of the one before it is gone.
            self._sending, self._ready = self._ready, ready

    def send(self, item: OutboxView) -> SendResult:
        with self._lock:
            prepared = self._ready.pop(item.id, None) or self._sending.pop(item.id, None)
        if prepared is None:
            prepared = self._read([item])[item.id]
        if isinstance(prepared, PermanentSendError):
            raise prepared
        mail, done = prepared, None
        if isinstance(prepared, tuple):
            mail, composing = prepared
            done = self._ahead.result(item.id, composing)
        if done is None:
            done = composed(mail, self._desk, self._signer, self._clock())
        self._deliver(done.data, mail.recipient)
        return SendResult(provider_id=done.message_id)

    def _read(self, items: Sequence[OutboxView]) -> Ready:
        ready: Ready = {}
        addressed = []
        for item in items:
            try:
                addressed.append((item, recipient_address(item.recipient)))
            except PermanentSendError as error:
                ready[item.id] = error
        now = self._clock().astimezone(UTC).replace(tzinfo=None)
        with self._sessions() as session:
            ready.update(outgoing_mails(session, addressed, now))
        return ready

    def _deliver(self, message: bytes, recipient: str) -> None:
        """On a kept connection when there is one; a kept connection the server dropped
        meanwhile is replaced once, as the mail never reached it."""
        while True:
            try:
                connection, reused = self._connections.take()
            except (smtplib.SMTPException, OSError) as error:
                raise TransientSendError(f"{self._where()}: {_describe(error)}") from None
            try:
                connection.smtp.sendmail(self._desk.addr_spec, [recipient], message)
            except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
                connection.smtp.close()
                if reused:
                    continue
                raise TransientSendError(f"{self._where()}: {_describe(error)}") from None
            except BaseException as error:
                close(connection)
                raise self._refusal(error, recipient) from None
            self._connections.give_back(connection)
            return

    def _refusal(self, error: BaseException, recipient: str) -> BaseException:
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            code, reply = error.recipients.get(recipient, (451, b"recipient refused"))
            return _by_code(code, reply, f"the smarthost refused {recipient}")
        if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
            return _by_code(error.smtp_code, error.smtp_error, "the smarthost refused the mail")
        if isinstance(error, smtplib.SMTPException | OSError):
            return TransientSendError(f"{self._where()}: {_describe(error)}")
        return error

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._smarthost.tls_ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        """Connected, encrypted and logged in as the settings ask; certificates and host names
        are always verified, against ``smarthost.tls_ca_file`` or the system's trust store."""
        settings = self._smarthost
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout,
                context=self._tls(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=self._tls())
            if settings.username:
                smtp.login(settings.username, settings.password)
        except smtplib.SMTPNotSupportedError as error:
            smtp.close()
            raise TransientSendError(
                f"{self._where()}: {error}; check smarthost.security and smarthost.username"
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise TransientSendError(
                f"{self._where()} refused the login: {_describe(error)}; "
                "check smarthost.username and smarthost.password"
            ) from None
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _where(self) -> str:
        return f"smarthost {self._smarthost.host}:{self._smarthost.port}"


def _by_code(code: int, reply: bytes | str, what: str) -> PermanentSendError | TransientSendError:
    message = f"{_reply(code, reply)} ({what})"
    return PermanentSendError(message) if 500 <= code < 600 else TransientSendError(message)


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    return f"{type(error).__name__}: {error}"


def _reply(code: int, reply: bytes | str) -> str:
    """One line, as ``outbox list`` shows it: ``550 5.1.1 no such user``."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(f"{code} {text}".split())
