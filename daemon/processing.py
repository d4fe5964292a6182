"""The processor as the settings make it, the one place the pipeline is assembled: for
``threadline run`` and ``threadline process`` alike. A module of its own, so that
``threadline process`` imports the pipeline without the rest of the daemon (the HTTP server,
the pollers, the migrations), about half a second of every call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.component import StartupError
from threadline.core.config_types import process_count
from threadline.core.leased_queue import Observe
from threadline.core.models.base import now_utc
from threadline.core.pipeline import Pipeline, PipelineSettings
from threadline.core.processor import Handler, Processor
from threadline.core.routing import RoutingError, check_routing
from threadline.core.token_secret import token_secret
from threadline.core.tokens import TokenSigner
from threadline.daemon import channels
from threadline.daemon.collector import collecting_less
from threadline.daemon.fetching import fetching
from threadline.daemon.parse_workers import ParseAhead
from threadline.daemon.settings import Settings


def build_handler(settings: Settings, sessions: sessionmaker[Session]) -> Handler:
    """Checks the routing rules against the database first, so a misspelt department stops
    the start instead of failing every new ticket."""
    with sessions() as session:
        try:
            check_routing(session, settings.routing, settings.assignment)
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
            notifications=settings.notifications,
            assignment=settings.assignment,
            attachments=settings.attachments,
            traits=channels.traits(),
            suppress_bounced_for={
                channel.name: channel.suppress_bounced_for(settings)
                for channel in channels.CHANNELS
            },
            feeds={
                channel.name: feed
                for channel in channels.CHANNELS
                if (feed := channel.feed(settings)) is not None
            },
        ),
        clock=now_utc,
    )
    return pipeline.handle


@contextmanager
def processing(
    settings: Settings, sessions: sessionmaker[Session], observe: Observe | None = None
) -> Iterator[Processor]:
    """The processor with its parse workers (``[intake] parse_workers``), which stop when the
    block ends, the channels' fetches (``daemon/fetching.py``), and the garbage collector tuned
    for batches (``daemon/collector.py``)."""
    intake = settings.intake
    fetchers = {
        channel.name: fetch
        for channel in channels.CHANNELS
        if (fetch := channel.fetch(settings)) is not None
    }
    with (
        collecting_less(),
        ParseAhead(
            channels.build_parsers, process_count(intake.parse_workers), intake.parse_timeout
        ) as parsing,
    ):
        handler = build_handler(settings, sessions)
        prepare = fetching(parsing, fetchers, intake.max_attempts)
        yield Processor(sessions, handler, intake, prepare=prepare, observe=observe)
