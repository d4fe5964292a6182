"""What a channel is to the daemon: one :class:`Channel` per sub-package, listed once in
``daemon/channels.py``. The settings model, the parsers, the senders, the components, the HTTP
routes and the command line's ``--channel`` choices are all derived from that list, so a new
channel touches its own sub-package and one line there (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel

from threadline.channels.component import Service
from threadline.core.channel_traits import ChannelTraits
from threadline.core.parsers import Fetch, Parser
from threadline.core.settings import Section

if TYPE_CHECKING:
    # Not at run time: the descriptors are imported by every command and parse worker.
    from aiohttp import web
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from threadline.channels.schedules import Job
    from threadline.core.intake import Intake
    from threadline.core.senders import Sender
    from threadline.core.tokens import TokenSigner

S = TypeVar("S", bound=Section)
T = TypeVar("T")


@dataclass(frozen=True)
class ChannelContext:
    """What a channel's sender, components and routes are built from, once the database is
    open: the same for every channel, so none reaches into the daemon for more."""

    settings: BaseModel
    """The whole configuration; a channel reads its own sections with :meth:`section`."""
    engine: Engine
    sessions: sessionmaker[Session]
    intake: Intake
    """Accepts raw items and wakes the processors of every daemon sharing the database."""
    signer: TokenSigner
    _shared: dict[str, Any] = field(default_factory=dict, compare=False)

    def section(self, kind: type[S]) -> S:
        return section(self.settings, kind)

    def shared(self, key: str, build: Callable[[], T]) -> T:
        """One object of the run under ``key``, built on first use: what a channel's sender,
        components and routes share (the health of its connection)."""
        if key not in self._shared:
            self._shared[key] = build()
        return cast(T, self._shared[key])


def section(settings: BaseModel, kind: type[S]) -> S:
    """The configured section of type ``kind`` (each section type appears once)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, kind):
            return value
    raise LookupError(f"no settings section of type {kind.__name__}")


Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def switched_off(name: str, table: str) -> Handler:
    """What a route of a channel that is off answers: 404, naming the setting that turns it
    on (``[table] enabled``)."""
    from aiohttp import web

    async def off(_request: web.Request) -> web.Response:
        text = f"the {name} channel is off: [{table}] enabled is false\n"
        return web.Response(status=404, text=text)

    return off


@dataclass(frozen=True)
class Route:
    """An HTTP route the channel serves on the daemon's server (a webhook)."""

    method: str
    path: str
    handler: Callable[[ChannelContext], Handler]
    """Builds the request handler once the database is open."""


@dataclass(frozen=True)
class Channel:
    name: str
    """Stored with every item, message and outbox row; at most 32 characters."""
    parse: Parser
    dedup_key: Callable[[bytes], str]
    """The key of a raw item when whoever hands it in gives none (``threadline ingest``):
    the channel's own message id, or a digest of the bytes."""
    fetch: Callable[[BaseModel], Fetch | None] = lambda _settings: None
    """From the settings (the provider's credentials): what fetches, in the processor and
    outside any transaction, what a parsed item only names; None: nothing to fetch."""
    parse_in_workers: bool = True
    """The parser costs more than shipping an item to a parse worker and its message back:
    mail does (about 330 µs against 20), JSON that pydantic-core validates does not."""
    sections: Mapping[str, type[Section]] = field(default_factory=dict)
    """The TOML tables the channel reads, by name (``[email]``, ``[smtp]``...)."""
    sender: Callable[[ChannelContext], Sender | None] = lambda _context: None
    """Delivers outbox rows of this channel; None: the channel only receives, or is off."""
    components: Callable[[ChannelContext], Sequence[Service]] = lambda _context: ()
    """Listeners and pollers, started and stopped by the supervisor with the others."""
    jobs: Callable[[Sequence[Service]], Sequence[Job]] = lambda _components: ()
    """Scheduled jobs for the components ``components`` built (a poll that falls due), run by
    the daemon's scheduler with its own jobs."""
    routes: Sequence[Route] = ()
    traits: ChannelTraits = field(default_factory=ChannelTraits)
    feed: Callable[[BaseModel], str | None] = lambda _settings: None
    """From the settings: where the channel keeps the agents a feed of every ticket (a chat
    channel's id), None for no feed."""
    suppress_bounced_for: Callable[[BaseModel], timedelta] = lambda _settings: timedelta(0)
    """From the settings: how long an address that bounced hard receives nothing on it."""
