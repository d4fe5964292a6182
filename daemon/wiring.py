"""What ``threadline run`` serves, assembled from the settings and the listed channels: the
processor and the dispatcher, every channel's components and HTTP routes and the scheduler, all
woken through one hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from threadline.channels.component import Service
from threadline.channels.descriptor import ChannelContext
from threadline.core.db import session_factory
from threadline.core.dispatcher import Dispatcher
from threadline.core.intake import Intake
from threadline.core.senders import SenderRegistry
from threadline.core.token_secret import token_secret
from threadline.core.tokens import TokenSigner
from threadline.core.undelivered import Undelivered
from threadline.daemon import channels
from threadline.daemon.dispatcher_runner import DispatcherRunner
from threadline.daemon.intake_pace import IntakePace
from threadline.daemon.jobs import daemon_jobs
from threadline.daemon.metrics import DaemonMetrics, JobCollector, QueueCollector, make_registry
from threadline.daemon.pg_listener import NotificationListener
from threadline.daemon.processing import processing
from threadline.daemon.processor_runner import processor_runner
from threadline.daemon.scheduler import Scheduler
from threadline.daemon.settings import Settings
from threadline.daemon.wake_hub import Topic, WakeHub
from threadline.daemon.worker_presence import WorkerPresence


@dataclass(frozen=True)
class Assembly:
    services: list[Service]
    """In start order: the processor and the dispatcher, then each channel's components."""
    routes: list[web.RouteDef]
    registry: CollectorRegistry = field(default_factory=make_registry)
    """The daemon's metrics."""


def channel_context(
    settings: Settings,
    engine: Engine,
    hub: WakeHub,
    metrics: DaemonMetrics,
    pace: IntakePace | None = None,
) -> ChannelContext:
    sessions = session_factory(engine)

    def accepted(channels: list[str]) -> None:
        metrics.accepted(channels)
        if pace is not None:
            pace.accepted()
        hub.wake(Topic.INTAKE)

    return ChannelContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        intake=Intake(sessions, on_accepted=accepted),
        signer=TokenSigner(token_secret(sessions, settings.threading.token_secret)),
    )


def build_senders(context: ChannelContext) -> SenderRegistry:
    """Outbox rows of a channel without a sender go dead at once, saying so."""
    senders = SenderRegistry()
    for channel in channels.CHANNELS:
        sender = channel.sender(context)
        if sender is not None:
            senders.register(channel.name, sender)
    return senders


def assemble(settings: Settings, engine: Engine, hub: WakeHub) -> Assembly:
    """On PostgreSQL also the listener for the other daemons' commits and the workers'
    presence (``core/lease_recovery.py``), both started before the workers; the scheduler
    last, once there is something to wake."""
    metrics = DaemonMetrics(make_registry())
    metrics.channels(channels.names())
    pace = IntakePace()
    context = channel_context(settings, engine, hub, metrics, pace)
    sessions = context.sessions
    build = partial(processing, observe=metrics.handled)
    process = processor_runner(
        build, settings, sessions, on_handled=hub.waker(Topic.OUTBOX), pace=pace
    )
    senders = build_senders(context)
    undelivered = Undelivered(settings.notifications, channels.traits())
    dispatcher = Dispatcher(
        sessions, senders, settings.dispatch, observe=metrics.sent, undelivered=undelivered
    )
    dispatch = DispatcherRunner(dispatcher)
    hub.subscribe(Topic.INTAKE, process.wake)
    hub.subscribe(Topic.OUTBOX, dispatch.wake)
    postgresql = engine.dialect.name == "postgresql"
    services: list[Service] = []
    if postgresql:
        workers = (process.worker_id, dispatcher.worker_id)
        services += [NotificationListener(engine.url, hub), WorkerPresence(engine.url, workers)]
    services += [process, dispatch]
    routes: list[web.RouteDef] = []
    jobs = daemon_jobs(settings, sessions, hub, postgresql)
    for channel in channels.CHANNELS:
        components = channel.components(context)
        services += components
        jobs += channel.jobs(components)
        routes += [web.route(r.method, r.path, r.handler(context)) for r in channel.routes]
    scheduler = Scheduler(jobs, sessions)
    services.append(scheduler)
    metrics.registry.register(QueueCollector(sessions))
    metrics.registry.register(JobCollector(scheduler.counts))
    return Assembly(services, routes, metrics.registry)
