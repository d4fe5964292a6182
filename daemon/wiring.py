"""What turns the settings into the objects that process inbound items: the one place the
pipeline is assembled, for ``threadline run`` and ``threadline process`` alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from channels.email.outgoing import CHANNEL as EMAIL_CHANNEL
from channels.email.smarthost import EmailSender
from core.models.base import now_utc
from core.parse_ahead import ParseAhead
from core.pipeline import Pipeline, PipelineSettings
from core.processor import Handler, Processor
from core.routing import RoutingError, check_routing
from core.senders import SenderRegistry
from core.token_secret import token_secret
from core.tokens import TokenSigner
from daemon.dispatcher_runner import DispatcherFactory
from daemon.imap_runner import imap_runner
from daemon.parsers import build_parsers
from daemon.processor_runner import processor_runner
from daemon.processor_wake import ProcessorWake
from daemon.settings import Settings
from daemon.startup import StartupError
from daemon.supervisor import Supervisor


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


def build_handler(settings: Settings, sessions: sessionmaker[Session]) -> Handler:
    """Checks the routing rules against the database first, so a misspelt department stops
    the start instead of failing every new ticket."""
    with sessions() as session:
        try:
            check_routing(session, settings.routing)
        except RoutingError as error:
            raise StartupError(f"routing: {error}") from None
    signer = TokenSigner(token_secret(sessions, settings.threading.token_secret))
    pipeline = Pipeline(
        signer,
        PipelineSettings(
            identity=settings.identity,
            threading=settings.threading,
            tickets=settings.tickets,
            routing=settings.routing,
            suppress_bounced_for=timedelta(days=settings.email.hard_bounce_suppression_days),
        ),
        clock=now_utc,
    )
    return pipeline.handle


@contextmanager
def processing(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Processor]:
    """The processor with its parse workers (``[intake] parse_workers``), which stop when the
    block ends."""
    intake = settings.intake
    with ParseAhead(build_parsers, intake.parse_worker_count, intake.parse_timeout) as parsing:
        yield Processor(
            sessions, build_handler(settings, sessions), settings.intake, prepare=parsing
        )
