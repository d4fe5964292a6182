"""Opening an authenticated connection to one mailbox's server, over the transport it asks for."""

from __future__ import annotations

import contextlib
import ssl

from imapclient import IMAPClient

from threadline.channels.email.imap_auth import login
from threadline.channels.email.settings import MailboxSettings

TIMEOUT_S = 60.0
"""Seconds a connect or a single read may take before the connection counts as broken."""


def connect(settings: MailboxSettings, timeout: float = TIMEOUT_S) -> IMAPClient:
    """A logged-in client; raises OSError, imapclient's errors, TokenError or LoginRefused."""
    context = tls_context(settings) if settings.security != "none" else None
    client = IMAPClient(
        settings.host,
        settings.port,
        ssl=settings.security == "ssl",
        ssl_context=context,
        timeout=timeout,
    )
    try:
        if settings.security == "starttls":
            client.starttls(context)
        login(client, settings)
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def tls_context(settings: MailboxSettings) -> ssl.SSLContext:
    """Certificates and host names are always verified; ``tls_ca_file`` only changes whom to
    trust (given, it replaces the system's CAs)."""
    return ssl.create_default_context(cafile=settings.tls_ca_file or None)
