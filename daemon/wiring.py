"""What turns the settings into the objects that process inbound items: the one place the
pipeline is assembled, for ``threadline run`` and ``threadline process`` alike."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from channels import normalized
from core.models.base import now_utc
from core.parsers import ParserRegistry
from core.pipeline import Pipeline, PipelineSettings
from core.processor import Handler
from core.routing import RoutingError, check_routing
from core.senders import SenderRegistry
from core.token_secret import token_secret
from core.tokens import TokenSigner
from daemon.dispatcher_runner import DispatcherFactory
from daemon.processor_runner import processor_runner
from daemon.settings import Settings
from daemon.supervisor import RunnerFactory, StartupError


def build_parsers() -> ParserRegistry:
    """Every channel's parser; channels join here as they are built."""
    parsers = ParserRegistry()
    parsers.register(normalized.CHANNEL, normalized.parse)
    return parsers


def build_senders() -> SenderRegistry:
    """Every channel's sender; channels join here as they are built. Outbox rows of a channel
    without a sender go dead at once, saying so (``threadline outbox retry`` once it has one)."""
    return SenderRegistry()


def build_runners() -> tuple[RunnerFactory, ...]:
    """What ``threadline run`` starts beside the HTTP server: the processor, which wakes the
    dispatcher after every batch it commits, and the dispatcher."""
    dispatch = DispatcherFactory(build_senders())
    return (processor_runner(build_handler, on_handled=dispatch.wake), dispatch)


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
        build_parsers(),
        signer,
        PipelineSettings(
            identity=settings.identity,
            threading=settings.threading,
            tickets=settings.tickets,
            routing=settings.routing,
        ),
        clock=now_utc,
    )
    return pipeline.handle
