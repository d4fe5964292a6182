"""Outbox rows of the email channel, handed to the smarthost with smtplib.

The dispatcher calls :meth:`EmailSender.send` in a worker thread, outside any transaction: the
database is read in a short session of its own, closed before the network is touched.

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
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email import CHANNEL
from threadline.channels.email.compose import DeskAddress, compose, recipient_address
from threadline.channels.email.outgoing import outgoing_mail
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.core.models import Suppression
from threadline.core.senders import OutboxView, PermanentSendError, SendResult, TransientSendError
from threadline.core.tokens import TokenSigner

Clock = Callable[[], datetime]
"""Timezone-aware."""


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

    def send(self, item: OutboxView) -> SendResult:
        recipient = recipient_address(item.recipient)
        now = self._clock()
        with self._sessions() as session:
            _refuse_suppressed(session, recipient, now)
            mail = outgoing_mail(session, item, recipient)
        message = compose(mail, self._desk, self._signer, now)
        self._deliver(message, recipient)
        return SendResult(provider_id=str(message["Message-ID"]).strip("<>"))

    def _deliver(self, message: EmailMessage, recipient: str) -> None:
        try:
            with self._connect() as smtp:
                smtp.send_message(message, from_addr=self._desk.addr_spec, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients.get(recipient, (451, b"recipient refused"))
            raise _by_code(code, reply, f"the smarthost refused {recipient}") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise _by_code(
                error.smtp_code, error.smtp_error, "the smarthost refused the mail"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            # Raised by send_message for an address that needs SMTPUTF8 the server lacks.
            raise PermanentSendError(f"the smarthost cannot take this mail: {error}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise TransientSendError(f"{self._where()}: {_describe(error)}") from None

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


def _refuse_suppressed(session: Session, recipient: str, now: datetime) -> None:
    until = session.scalar(
        select(Suppression.until).where(
            Suppression.channel == CHANNEL,
            Suppression.address == recipient,
            Suppression.until > now.astimezone(UTC).replace(tzinfo=None),
        )
    )
    if until is not None:
        raise PermanentSendError(
            f"suppressed: {recipient} bounced hard; "
            f"no mail goes to it until {until:%Y-%m-%d %H:%M} UTC"
        )


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
