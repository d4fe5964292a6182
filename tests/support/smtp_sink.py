"""A real SMTP server on 127.0.0.1 for mail the desk sends: aiosmtpd collecting envelopes.

It answers what a test tells it to (``550 5.1.1`` for one recipient, ``451 4.3.0`` for another,
a refusal of the data), and can require AUTH and offer STARTTLS or implicit TLS with a
self-signed certificate made for the test (trusted through ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    """Also the CA file a client trusts: the certificate is its own issuer."""
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        return context


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None
    """Who authenticated, if anyone."""
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    replies: dict[str, str] = field(default_factory=dict)
    """Recipient address -> the reply to its RCPT TO (``550 5.1.1 no such user``)."""
    data_reply: str | None = None
    """Answer DATA with this instead of accepting the mail."""
    login: tuple[str, str] | None = None
    """Require AUTH with this user name and password."""
    tls: TlsFiles | None = None
    implicit_tls: bool = False
    """With ``tls``: TLS from the first byte (``smtps``) instead of STARTTLS."""
    received: list[Received] = field(default_factory=list)
    greetings: int = 0
    """EHLOs answered: one per connection a client opened and used."""
    port: int = 0
    _controller: Controller | None = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, port: int | None = None) -> None:
        """On a free port, or on ``port`` again after :meth:`stop` (a restarted server)."""
        self.port = port or free_port()
        options: dict[str, Any] = {}
        if self.tls is not None and self.implicit_tls:
            options["ssl_context"] = self.tls.server_context()
        elif self.tls is not None:
            options["tls_context"] = self.tls.server_context()
        if self.login is not None:
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": self.tls is not None,
            }
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.login == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self._sink.greetings += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self._sink.replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._sink.data_reply is not None:
            return self._sink.data_reply
        login = session.auth_data.login.decode() if session.authenticated else None
        self._sink.received.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                login,
                session.ssl is not None,
            )
        )
        return "250 OK"


def self_signed_certificate(directory: Path) -> TlsFiles:
    """For 127.0.0.1, which is how the sender names the sink; with ``cryptography`` when it is
    installed, else with the ``openssl`` command."""
    files = TlsFiles(directory / "sink-cert.pem", directory / "sink-key.pem")
    try:
        _with_cryptography(files)
    except ImportError:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={HOST}",
                "-addext",
                f"subjectAltName=IP:{HOST}",
                "-keyout",
                str(files.key),
                "-out",
                str(files.certificate),
            ],
            check=True,
            capture_output=True,
        )
    return files


def _with_cryptography(files: TlsFiles) -> None:
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
