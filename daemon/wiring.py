"""What turns the settings into what ``threadline run`` runs: the senders, and the supervisor
with its runners (the processor as ``daemon/processing.py`` assembles it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email.outgoing import CHANNEL as EMAIL_CHANNEL
from threadline.channels.email.smarthost import EmailSender
from threadline.core.senders import SenderRegistry
from threadline.core.token_secret import token_secret
from threadline.core.tokens import TokenSigner
from threadline.daemon.dispatcher_runner import DispatcherFactory
from threadline.daemon.imap_runner import imap_runner
from threadline.daemon.processing import processing
from threadline.daemon.processor_runner import processor_runner
from threadline.daemon.processor_wake import ProcessorWake
from threadline.daemon.settings import Settings
from threadline.daemon.startup import StartupError
from threadline.daemon.supervisor import Supervisor


def build_senders(settings: Settings, sessions: sessionmaker[Session]) -> SenderRegistry:
    """Every channel's sender; channels join here as they are built. Outbox rows of a channel
    without a sender go dead at once, saying so (``threadline outbox retry`` once it has one)."""
    signer = TokenSigner(token_secret(sessions, settings.threading.token_secret))
    try:
        email = EmailSender(sessions, signer, settings.email, settings.smarthost)
    except ValueError as error:
        raise StartupError(str(error)) from None
    senders = SenderRegistry()
    senders.register(EMAIL_CHANNEL, email)
    return senders


def build_supervisor(settings: Settings, config_path: Path | None) -> Supervisor:
    """What ``threadline run`` runs beside the HTTP server: the processor, which wakes the
    dispatcher after every batch it commits; the dispatcher; one poller per IMAP mailbox; and
    the SMTP listener. The pollers and the listener wake the processor after accepting mail."""
    dispatch = DispatcherFactory(build_senders)
    process = ProcessorWake(processor_runner(processing, on_handled=dispatch.wake))
    mailboxes = [imap_runner(mailbox, process.accepted) for mailbox in settings.imap.mailboxes]
    return Supervisor(
        settings, config_path, (process, dispatch, *mailboxes), on_accepted=process.accepted
    )
